/**
 * A Raft member around the pure core: persists each step before sending its messages, applies
 * committed entries to a state machine, takes snapshots, and offers two client operations that
 * work on any member: propose (followers forward to the leader) and readBarrier (read-index; a
 * follower asks the leader for the index, then waits until it has applied it).
 *
 * Still free of I/O of its own: a Transport, RaftStorage and clock are injected and the owner calls
 * tick() periodically (timers here run off that clock), so tests drive it in simulated time.
 */
import { RaftCore } from './core.js';
import type { Entry, NodeId, RaftMessage } from './messages.js';
import type { RaftStorage } from './storage.js';

export interface StateMachine {
  /** Apply one committed command; the result goes back to whoever proposed it. */
  apply(data: string, index: number): unknown;
  snapshot(): string;
  restore(data: string, index: number): void;
}

/** Node-to-node messages besides Raft's own: forwarding of client operations. */
export type ForwardMessage =
  | { readonly type: 'fwd'; readonly from: NodeId; readonly to: NodeId; readonly req: string; readonly data: string }
  | { readonly type: 'fwdResp'; readonly from: NodeId; readonly to: NodeId; readonly req: string; readonly ok: boolean; readonly result?: unknown }
  | { readonly type: 'fwdRead'; readonly from: NodeId; readonly to: NodeId; readonly req: string }
  | { readonly type: 'fwdReadResp'; readonly from: NodeId; readonly to: NodeId; readonly req: string; readonly index: number | null };

export type WireMessage = RaftMessage | ForwardMessage;

export interface Transport {
  send(to: NodeId, message: WireMessage): void;
}

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly members: readonly NodeId[];
  readonly storage: RaftStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  readonly random: () => number;
  readonly electionTimeoutMs?: number;
  readonly heartbeatMs?: number;
  /** Take a snapshot after this many applied entries. */
  readonly snapshotEvery?: number;
  /** Observer of every entry this node applies from its log (tests check state machine safety). */
  readonly onApplied?: (entry: Entry, result: unknown) => void;
}

/** The operation could not be completed in time; it may or may not have taken effect. */
export class RaftTimeoutError extends Error {}

type Outcome = { ok: true; result: unknown } | { ok: false };
interface Timer { at: number; fire: () => void }

export class RaftNode {
  readonly id: NodeId;
  readonly core: RaftCore;
  private readonly electionTimeoutMs: number;
  private readonly heartbeatMs: number;
  private applied = 0;
  private stopped = false;
  private seq = 0;
  /** Distinguishes request ids across restarts: a delayed answer to a previous life must not match. */
  private readonly bootId: string;
  private timers = new Set<Timer>();
  /** Local proposals by log index: resolved when that index applies (with the term we appended it in). */
  private proposals = new Map<number, { term: number; done: (o: Outcome) => void }>();
  /** Outstanding forwarded or local requests by request id. */
  private requests = new Map<string, (o: Outcome | { index: number | null } | null) => void>();
  private appliedWaiters: { index: number; done: () => void }[] = [];

  constructor(private readonly opts: RaftNodeOptions) {
    this.id = opts.id;
    this.electionTimeoutMs = opts.electionTimeoutMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(10, Math.floor(this.electionTimeoutMs / 5));
    this.bootId = Math.floor(opts.random() * 2 ** 48).toString(36);
    this.core = new RaftCore({
      id: opts.id, members: opts.members, electionTimeoutMs: this.electionTimeoutMs, heartbeatMs: this.heartbeatMs,
      now: opts.now, random: opts.random,
    }, opts.storage.load());
    this.process();
  }

  get appliedIndex(): number { return this.applied; }
  get isLeader(): boolean { return this.core.isLeader; }

  tick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.process();
    const now = this.opts.now();
    for (const t of [...this.timers]) {
      if (t.at <= now) {
        this.timers.delete(t);
        t.fire();
      }
    }
  }

  receive(m: WireMessage): void {
    if (this.stopped || m.to !== this.id) return;
    switch (m.type) {
      case 'fwd': return this.onForward(m.from, m.req, m.data);
      case 'fwdRead': return this.onForwardRead(m.from, m.req);
      case 'fwdResp': this.requests.get(m.req)?.(m.ok ? { ok: true, result: m.result } : { ok: false }); return;
      case 'fwdReadResp': this.requests.get(m.req)?.({ index: m.index }); return;
      default:
        this.core.step(m);
        this.process();
    }
  }

  /** Replicate `data` and return the state machine's result. Throws RaftTimeoutError after timeoutMs. */
  async propose(data: string, timeoutMs: number): Promise<unknown> {
    const deadline = this.opts.now() + timeoutMs;
    while (!this.stopped && this.opts.now() < deadline) {
      const remaining = deadline - this.opts.now();
      const o = await this.attempt<Outcome>(remaining, (req, done) => {
        if (this.core.isLeader) this.proposeLocal(data, done);
        else this.sendToLeader({ type: 'fwd', from: this.id, to: '', req, data });
      });
      if (o && o.ok) return o.result;
      // No leader, lost leadership, or no answer: retry (the state machine de-duplicates retries).
      await this.sleep(Math.min(this.heartbeatMs, Math.max(0, deadline - this.opts.now())));
    }
    throw new RaftTimeoutError(this.stopped ? 'raft node stopped' : `no raft quorum within ${timeoutMs} ms`);
  }

  /** Resolve once this node's state machine reflects every write committed before the call. */
  async readBarrier(timeoutMs: number): Promise<void> {
    const deadline = this.opts.now() + timeoutMs;
    while (!this.stopped && this.opts.now() < deadline) {
      const remaining = deadline - this.opts.now();
      const r = await this.attempt<{ index: number | null }>(remaining, (req, done) => {
        if (this.core.readIndex(req)) this.process();
        else this.sendToLeader({ type: 'fwdRead', from: this.id, to: '', req });
      });
      if (r && typeof r.index === 'number' && (await this.waitApplied(r.index, deadline - this.opts.now()))) return;
      await this.sleep(Math.min(this.heartbeatMs, Math.max(0, deadline - this.opts.now())));
    }
    throw new RaftTimeoutError(this.stopped ? 'raft node stopped' : `no raft quorum within ${timeoutMs} ms`);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) t.fire();
    this.timers.clear();
    for (const p of this.proposals.values()) p.done({ ok: false });
    this.proposals.clear();
    for (const done of [...this.requests.values()]) done(null);
    this.opts.storage.close();
  }

  // --- internals ---------------------------------------------------------------------------------

  /** One try of a request: `start` either completes via `done` or sends a forward answered by req id. */
  private attempt<T>(timeoutMs: number, start: (req: string, done: (v: T) => void) => void): Promise<T | null> {
    const req = `${this.id}/${this.bootId}/${++this.seq}`;
    // Wait at most an election timeout for one leader's answer before asking again.
    const budget = Math.min(timeoutMs, this.electionTimeoutMs * 2);
    return new Promise<T | null>((resolve) => {
      let settled = false;
      const finish = (v: T | null) => {
        if (settled) return;
        settled = true;
        this.requests.delete(req);
        cancel();
        resolve(v);
      };
      const cancel = this.after(budget, () => finish(null));
      this.requests.set(req, finish as never);
      start(req, finish);
    });
  }

  private sendToLeader(m: ForwardMessage): void {
    const leader = this.core.leader;
    if (leader === null || leader === this.id) {
      this.requests.get(m.req)?.(null as never);
      return;
    }
    this.opts.transport.send(leader, { ...m, to: leader });
  }

  private proposeLocal(data: string, done: (o: Outcome) => void): void {
    const p = this.core.propose(data);
    if (!p) return done({ ok: false });
    this.proposals.set(p.index, { term: p.term, done });
    this.process();
  }

  private onForward(from: NodeId, req: string, data: string): void {
    const reply = (o: Outcome) => this.opts.transport.send(from, { type: 'fwdResp', from: this.id, to: from, req, ...o });
    this.proposeLocal(data, reply);
  }

  private onForwardRead(from: NodeId, req: string): void {
    const key = `${from}>${req}`;
    const reply = (index: number | null) => this.opts.transport.send(from, { type: 'fwdReadResp', from: this.id, to: from, req, index });
    if (!this.core.readIndex(key)) return reply(null);
    const cancel = this.after(this.electionTimeoutMs * 2, () => this.requests.delete(key));
    this.requests.set(key, (r) => {
      this.requests.delete(key);
      cancel();
      reply(r && 'index' in r ? r.index : null);
    });
    this.process();
  }

  private process(): void {
    const wasLeader = this.core.isLeader;
    const r = this.core.ready();
    this.opts.storage.save(r.storage);
    if (r.snapshot) {
      this.opts.stateMachine.restore(r.snapshot.data, r.snapshot.index);
      this.applied = r.snapshot.index;
    }
    for (const e of r.committed) {
      const result = e.data === '' ? undefined : this.opts.stateMachine.apply(e.data, e.index);
      this.applied = e.index;
      this.opts.onApplied?.(e, result);
      const p = this.proposals.get(e.index);
      if (p) {
        this.proposals.delete(e.index);
        p.done(p.term === e.term ? { ok: true, result } : { ok: false });
      }
    }
    for (const m of r.messages) this.opts.transport.send(m.to, m);
    for (const read of r.reads) this.requests.get(read.id)?.({ index: read.index });
    if (this.appliedWaiters.length) {
      const ready = this.appliedWaiters.filter((w) => w.index <= this.applied);
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.applied);
      for (const w of ready) w.done();
    }
    if (wasLeader && !this.core.isLeader) this.onLostLeadership();
    const every = this.opts.snapshotEvery ?? 1000;
    if (this.applied - this.core.snapshotIndex >= every) {
      this.core.compact(this.applied, this.opts.stateMachine.snapshot());
      this.opts.storage.save(this.core.ready().storage);
    }
  }

  /** Entries we appended may still commit under the next leader, but we can no longer tell: retry. */
  private onLostLeadership(): void {
    for (const p of this.proposals.values()) p.done({ ok: false });
    this.proposals.clear();
  }

  private waitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { index, done: () => { cancel(); resolve(true); } };
      const cancel = this.after(timeoutMs, () => {
        this.appliedWaiters = this.appliedWaiters.filter((x) => x !== w);
        resolve(false);
      });
      this.appliedWaiters.push(w);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.after(ms, resolve); });
  }

  private after(ms: number, fire: () => void): () => void {
    const t: Timer = { at: this.opts.now() + ms, fire };
    if (this.stopped) {
      queueMicrotask(fire);
      return () => {};
    }
    this.timers.add(t);
    return () => this.timers.delete(t);
  }
}
