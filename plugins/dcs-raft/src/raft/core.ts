/**
 * The Raft consensus state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus
 * Algorithm"), deterministic and free of I/O: inputs are tick(), step(message), propose(),
 * readIndex() and compact(); everything it wants done comes out of ready(): storage operations
 * (durable before the messages of the same step are sent), messages, committed entries to apply,
 * a snapshot to install, and confirmed read indexes. Time and randomness are injected.
 *
 * Extras beyond the paper's core: read-index (section 6.4) with heartbeat rounds, check-quorum
 * (a leader that has not heard from a majority for an election timeout steps down), snapshots.
 */
import { RaftLog } from './log.js';
import type {
  AppendRequest, AppendResponse, Entry, HardState, NodeId, PersistedState, RaftMessage, Role, Snapshot,
  SnapshotRequest, StorageOp, VoteRequest, VoteResponse,
} from './messages.js';

export interface RaftCoreOptions {
  readonly id: NodeId;
  /** Every voting member, this one included (static membership). */
  readonly members: readonly NodeId[];
  /** Minimum election timeout in ms; the actual one is uniform in [min, 2*min). */
  readonly electionTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly now: () => number;
  /** Uniform in [0, 1); seeded in tests. */
  readonly random: () => number;
  /** Most entries per append message. */
  readonly maxBatch?: number;
}

export interface ReadResult { readonly id: string; readonly index: number | null }

export interface Ready {
  readonly storage: StorageOp[];
  readonly messages: RaftMessage[];
  /** Install into the state machine before applying `committed`. */
  readonly snapshot: Snapshot | null;
  readonly committed: Entry[];
  /** Read-index results: the index to wait for, or null when leadership was lost. */
  readonly reads: ReadResult[];
}

interface PendingRead { readonly id: string; readonly index: number; readonly round: number }

export class RaftCore {
  readonly id: NodeId;
  private readonly peers: NodeId[];
  private readonly log: RaftLog;
  private snap: Snapshot | null;
  private term_: number;
  private votedFor: NodeId | null;
  private role_: Role = 'follower';
  private leader_: NodeId | null = null;
  private commit = 0;
  private applied: number;
  private electionDeadline = 0;
  private heartbeatDue = 0;
  private votes = new Set<NodeId>();
  private next = new Map<NodeId, number>();
  private match = new Map<NodeId, number>();
  private ackRound = new Map<NodeId, number>();
  private heardSinceCheck = new Set<NodeId>();
  private quorumCheckDue = 0;
  private round = 0;
  private readsAwaitingCommit: string[] = [];
  private pendingReads: PendingRead[] = [];
  private out: { storage: StorageOp[]; messages: RaftMessage[]; snapshot: Snapshot | null; committed: Entry[]; reads: ReadResult[] };

  constructor(private readonly opts: RaftCoreOptions, persisted: PersistedState) {
    this.id = opts.id;
    this.peers = opts.members.filter((m) => m !== opts.id);
    this.snap = persisted.snapshot;
    this.log = new RaftLog(persisted.snapshot, persisted.entries);
    this.term_ = persisted.hard.term;
    this.votedFor = persisted.hard.votedFor;
    // Everything up to the snapshot is applied by installing it; the rest waits for a commit index.
    this.commit = this.applied = this.log.snapshotIndex;
    this.out = { storage: [], messages: [], snapshot: persisted.snapshot, committed: [], reads: [] };
    this.resetElectionTimer();
  }

  get term(): number { return this.term_; }
  get role(): Role { return this.role_; }
  get leader(): NodeId | null { return this.leader_; }
  get commitIndex(): number { return this.commit; }
  get lastIndex(): number { return this.log.lastIndex; }
  get appliedIndex(): number { return this.applied; }
  get snapshotIndex(): number { return this.log.snapshotIndex; }
  peersList(): NodeId[] { return [...this.peers]; }
  get isLeader(): boolean { return this.role_ === 'leader'; }
  /** A leader that has committed an entry of its own term knows every committed entry. */
  get leaderReady(): boolean { return this.isLeader && this.log.term(this.commit) === this.term_; }
  private get quorum(): number { return Math.floor((this.peers.length + 1) / 2) + 1; }

  /** Entries still in the log (after the snapshot), for invariant checks. */
  logEntries(): Entry[] {
    return this.log.slice(this.log.firstIndex, this.log.lastIndex);
  }

  ready(): Ready {
    const r = this.out;
    this.out = { storage: [], messages: [], snapshot: null, committed: [], reads: [] };
    return r;
  }

  tick(): void {
    const now = this.opts.now();
    if (this.role_ !== 'leader') {
      if (now >= this.electionDeadline) this.campaign();
      return;
    }
    if (now >= this.quorumCheckDue) {
      const heard = this.heardSinceCheck.size + 1;
      this.heardSinceCheck.clear();
      this.quorumCheckDue = now + this.opts.electionTimeoutMs;
      if (heard < this.quorum) return this.becomeFollower(this.term_, null);
    }
    if (now >= this.heartbeatDue) this.broadcast();
  }

  /** Append a command if leader; returns its index and term, or null (caller forwards it). */
  propose(data: string): { index: number; term: number } | null {
    if (this.role_ !== 'leader') return null;
    const entry: Entry = { index: this.log.lastIndex + 1, term: this.term_, data };
    this.appendLocal([entry]);
    this.advanceCommit();
    this.broadcast(false);
    return { index: entry.index, term: entry.term };
  }

  /** Request a linearizable read point; the answer comes out of ready().reads. False if not leader. */
  readIndex(id: string): boolean {
    if (this.role_ !== 'leader') return false;
    if (this.leaderReady) this.confirmRead(id);
    else this.readsAwaitingCommit.push(id);
    return true;
  }

  /** The state machine's image at `index` (<= applied): keep it as snapshot, drop the log before it. */
  compact(index: number, data: string): void {
    const term = this.log.term(index);
    if (index <= this.log.snapshotIndex || index > this.applied || term === undefined) return;
    this.snap = { index, term, data };
    this.log.compact(index, term);
    this.out.storage.push({ kind: 'snapshot', snapshot: this.snap });
  }

  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term_) {
      // A vote request from a newer term does not mean its sender leads.
      this.becomeFollower(m.term, m.type === 'append' || m.type === 'snapshot' ? m.from : null);
    } else if (m.term < this.term_) {
      // Tell stale leaders and candidates about the newer term; ignore stale responses.
      if (m.type === 'vote') this.send({ type: 'voteResp', term: this.term_, from: this.id, to: m.from, granted: false });
      if (m.type === 'append' || m.type === 'snapshot') this.send({ type: 'appendResp', term: this.term_, from: this.id, to: m.from, success: false, index: 0, round: m.round });
      return;
    }
    switch (m.type) {
      case 'vote': return this.onVote(m);
      case 'voteResp': return this.onVoteResp(m);
      case 'append': return this.onAppend(m);
      case 'appendResp': return this.onAppendResp(m);
      case 'snapshot': return this.onSnapshot(m);
    }
  }

  // --- roles -------------------------------------------------------------------------------------

  private resetElectionTimer(): void {
    const t = this.opts.electionTimeoutMs;
    this.electionDeadline = this.opts.now() + t + Math.floor(this.opts.random() * t);
  }

  private setHard(term: number, votedFor: NodeId | null): void {
    if (term === this.term_ && votedFor === this.votedFor) return;
    this.term_ = term;
    this.votedFor = votedFor;
    const hard: HardState = { term, votedFor };
    this.out.storage.push({ kind: 'hard', hard });
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (this.role_ === 'leader') this.failReads();
    if (term !== this.term_) this.setHard(term, null);
    this.role_ = 'follower';
    this.leader_ = leader;
    this.resetElectionTimer();
  }

  private campaign(): void {
    this.role_ = 'candidate';
    this.leader_ = null;
    this.setHard(this.term_ + 1, this.id);
    this.votes = new Set([this.id]);
    this.resetElectionTimer();
    if (this.votes.size >= this.quorum) return this.becomeLeader();
    for (const p of this.peers) {
      this.send({ type: 'vote', term: this.term_, from: this.id, to: p, lastIndex: this.log.lastIndex, lastTerm: this.log.lastTerm });
    }
  }

  private becomeLeader(): void {
    const now = this.opts.now();
    this.role_ = 'leader';
    this.leader_ = this.id;
    for (const p of this.peers) {
      this.next.set(p, this.log.lastIndex + 1);
      this.match.set(p, 0);
      this.ackRound.set(p, 0);
    }
    this.heardSinceCheck.clear();
    this.quorumCheckDue = now + this.opts.electionTimeoutMs;
    // The no-op of the new term commits every earlier entry (section 5.4.2) and enables reads.
    this.appendLocal([{ index: this.log.lastIndex + 1, term: this.term_, data: '' }]);
    this.advanceCommit();
    this.broadcast();
  }

  // --- handlers ----------------------------------------------------------------------------------

  private onVote(m: VoteRequest): void {
    const upToDate = m.lastTerm > this.log.lastTerm || (m.lastTerm === this.log.lastTerm && m.lastIndex >= this.log.lastIndex);
    const granted = upToDate && (this.votedFor === null || this.votedFor === m.from) && this.role_ !== 'leader';
    if (granted) {
      this.setHard(this.term_, m.from);
      this.resetElectionTimer();
    }
    this.send({ type: 'voteResp', term: this.term_, from: this.id, to: m.from, granted });
  }

  private onVoteResp(m: VoteResponse): void {
    if (this.role_ !== 'candidate' || !m.granted) return;
    this.votes.add(m.from);
    if (this.votes.size >= this.quorum) this.becomeLeader();
  }

  private onAppend(m: AppendRequest): void {
    this.role_ = 'follower';
    this.leader_ = m.from;
    this.resetElectionTimer();
    let prevIndex = m.prevIndex;
    let prevTerm = m.prevTerm;
    let entries = m.entries;
    if (prevIndex < this.log.snapshotIndex) {
      // The prefix is in our snapshot, hence committed and equal: skip it.
      entries = entries.filter((e) => e.index > this.log.snapshotIndex);
      prevIndex = this.log.snapshotIndex;
      prevTerm = this.log.snapshotTerm;
      if (entries.length > 0 && entries[0]!.index !== prevIndex + 1) entries = [];
    }
    const localPrevTerm = this.log.term(prevIndex);
    if (localPrevTerm !== prevTerm) {
      // Hint: retry after the last index before the conflicting term (or our end of log).
      let hint = Math.min(prevIndex - 1, this.log.lastIndex);
      if (localPrevTerm !== undefined) while (hint > this.log.snapshotIndex && this.log.term(hint) === localPrevTerm) hint--;
      this.send({ type: 'appendResp', term: this.term_, from: this.id, to: m.from, success: false, index: Math.max(hint, this.log.snapshotIndex), round: m.round });
      return;
    }
    // Only truncate on a real conflict: a stale or duplicated message must not cut newer entries.
    let firstNew = -1;
    for (let i = 0; i < entries.length; i++) {
      const t = this.log.term(entries[i]!.index);
      if (t !== entries[i]!.term) { firstNew = i; break; }
    }
    if (firstNew >= 0) {
      if (entries[firstNew]!.index <= this.commit) throw new Error(`leader ${m.from} conflicts with committed entry ${entries[firstNew]!.index}`);
      this.appendLocal(entries.slice(firstNew));
    }
    const lastNew = prevIndex + entries.length;
    if (m.commit > this.commit) this.commitTo(Math.min(m.commit, lastNew));
    this.send({ type: 'appendResp', term: this.term_, from: this.id, to: m.from, success: true, index: lastNew, round: m.round });
  }

  private onSnapshot(m: SnapshotRequest): void {
    this.role_ = 'follower';
    this.leader_ = m.from;
    this.resetElectionTimer();
    const s = m.snapshot;
    if (s.index > this.commit) {
      if (this.log.term(s.index) === s.term) this.log.compact(s.index, s.term);
      else {
        this.log.reset(s.index, s.term);
        this.out.storage.push({ kind: 'append', from: s.index + 1, entries: [] });
      }
      this.snap = s;
      this.out.storage.push({ kind: 'snapshot', snapshot: s });
      this.commit = this.applied = s.index;
      this.out.snapshot = s;
      this.out.committed = [];
    }
    // Committed entries equal the leader's, so everything up to our commit index matches.
    this.send({ type: 'appendResp', term: this.term_, from: this.id, to: m.from, success: true, index: Math.max(s.index, this.commit), round: m.round });
  }

  private onAppendResp(m: AppendResponse): void {
    if (this.role_ !== 'leader') return;
    this.heardSinceCheck.add(m.from);
    if (m.round > (this.ackRound.get(m.from) ?? 0)) {
      this.ackRound.set(m.from, m.round);
      this.checkReads();
    }
    const match = this.match.get(m.from) ?? 0;
    if (m.success) {
      if (m.index > match) {
        this.match.set(m.from, m.index);
        this.advanceCommit();
      }
      if (m.index + 1 > (this.next.get(m.from) ?? 1)) this.next.set(m.from, m.index + 1);
      if ((this.next.get(m.from) ?? 1) <= this.log.lastIndex) this.sendAppend(m.from, this.round);
    } else {
      // Responses can arrive reordered: never go below what is known to match.
      const next = Math.max(match + 1, Math.min(this.next.get(m.from) ?? 1, m.index + 1));
      this.next.set(m.from, next);
      this.sendAppend(m.from, this.round);
    }
  }

  // --- replication -------------------------------------------------------------------------------

  private appendLocal(entries: readonly Entry[]): void {
    this.log.replaceFrom(entries);
    this.out.storage.push({ kind: 'append', from: entries[0]!.index, entries });
  }

  private broadcast(newRound = true): void {
    if (newRound) {
      this.round++;
      this.heartbeatDue = this.opts.now() + this.opts.heartbeatMs;
    }
    for (const p of this.peers) this.sendAppend(p, this.round);
  }

  private sendAppend(to: NodeId, round: number): void {
    const next = this.next.get(to) ?? this.log.lastIndex + 1;
    if (next <= this.log.snapshotIndex) {
      if (!this.snap) throw new Error('log compacted without a snapshot');
      this.send({ type: 'snapshot', term: this.term_, from: this.id, to, snapshot: this.snap, round });
      return;
    }
    const prevIndex = next - 1;
    const entries = this.log.slice(next, this.log.lastIndex, this.opts.maxBatch ?? 64);
    this.send({ type: 'append', term: this.term_, from: this.id, to, prevIndex, prevTerm: this.log.term(prevIndex)!, entries, commit: this.commit, round });
  }

  private advanceCommit(): void {
    const indexes = [this.log.lastIndex, ...this.peers.map((p) => this.match.get(p) ?? 0)].sort((a, b) => b - a);
    const n = indexes[this.quorum - 1]!;
    // Only entries of the current term commit by counting replicas (Figure 8 of the paper).
    if (n > this.commit && this.log.term(n) === this.term_) this.commitTo(n);
  }

  private commitTo(index: number): void {
    if (index <= this.commit) return;
    this.commit = index;
    if (this.applied < index) {
      this.out.committed.push(...this.log.slice(this.applied + 1, index));
      this.applied = index;
    }
    if (this.leaderReady && this.readsAwaitingCommit.length) {
      for (const id of this.readsAwaitingCommit.splice(0)) this.confirmRead(id);
    }
  }

  // --- read index --------------------------------------------------------------------------------

  private confirmRead(id: string): void {
    this.broadcast();
    this.pendingReads.push({ id, index: this.commit, round: this.round });
    this.checkReads();
  }

  private checkReads(): void {
    while (this.pendingReads.length) {
      const r = this.pendingReads[0]!;
      const acks = 1 + this.peers.filter((p) => (this.ackRound.get(p) ?? 0) >= r.round).length;
      if (acks < this.quorum) return;
      this.pendingReads.shift();
      this.out.reads.push({ id: r.id, index: r.index });
    }
  }

  private failReads(): void {
    for (const id of this.readsAwaitingCommit.splice(0)) this.out.reads.push({ id, index: null });
    for (const r of this.pendingReads.splice(0)) this.out.reads.push({ id: r.id, index: null });
  }

  private send(m: RaftMessage): void {
    this.out.messages.push(m);
  }
}
