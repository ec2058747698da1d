/**
 * A Raft member serving the key-value store: RaftNode + KvState + TTL expiry.
 *
 * Expiry follows the leader's clock: the leader notes when it first saw each (key, version) with a
 * TTL and, once the TTL has passed on its monotonic clock, proposes `expire(key, version)` through
 * the log. Every node therefore deletes the key at the same log position, and only that version: a
 * refresh (which creates a new version) that wins the race makes the expiry a no-op. A new leader
 * starts every TTL afresh from when it takes over, so a refresh is never lost in a leader change;
 * keys outlive their TTL by at most one election.
 */
import { RaftNode, RaftTimeoutError, type RaftNodeOptions, type WireMessage } from '../raft/node.js';
import { KvUnavailableError, type KvApi } from './api.js';
import type { KvCommand, KvEntry, KvEnvelope, KvResult } from './commands.js';
import { KvState } from './state.js';
import { waitForChange } from './watch.js';

export type KvMemberOptions = Omit<RaftNodeOptions, 'stateMachine'>;

export class KvMember implements KvApi {
  readonly state = new KvState();
  readonly node: RaftNode;
  private readonly bootId: string;
  private seq = 0;
  /** Leader only: when this leader first saw each `key@version` with a TTL. */
  private firstSeen = new Map<string, number>();
  private firstSeenTerm = -1;
  private expiring = new Set<string>();

  constructor(private readonly opts: KvMemberOptions) {
    this.node = new RaftNode({ ...opts, stateMachine: this.state });
    this.bootId = Math.floor(opts.random() * 2 ** 48).toString(36);
  }

  get id(): string { return this.node.id; }

  tick(): void {
    this.node.tick();
    this.sweepExpired();
  }

  receive(m: WireMessage): void {
    this.node.receive(m);
  }

  newRid(): string {
    return `${this.id}~${this.bootId}~${++this.seq}`;
  }

  async submit(cmd: KvCommand, timeoutMs: number, rid = this.newRid()): Promise<KvResult> {
    const envelope: KvEnvelope = { rid, cmd };
    try {
      return (await this.node.propose(JSON.stringify(envelope), timeoutMs)) as KvResult;
    } catch (e) {
      throw unavailable(e);
    }
  }

  async list(prefix: string, timeoutMs: number): Promise<KvEntry[]> {
    try {
      await this.node.readBarrier(timeoutMs);
    } catch (e) {
      throw unavailable(e);
    }
    return this.state.list(prefix);
  }

  waitChange(key: string, version: number | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return waitForChange(this.state, key, version, timeoutMs, signal);
  }

  async close(): Promise<void> {
    this.node.stop();
  }

  private sweepExpired(): void {
    const core = this.node.core;
    if (!core.leaderReady) {
      if (this.firstSeen.size) this.firstSeen.clear();
      return;
    }
    if (this.firstSeenTerm !== core.term) {
      this.firstSeen.clear();
      this.firstSeenTerm = core.term;
    }
    const now = this.opts.now();
    const seen = new Map<string, number>();
    for (const e of this.state.expiring()) {
      const id = `${e.index}@${e.key}`;
      const since = this.firstSeen.get(id) ?? now;
      seen.set(id, since);
      if (now - since < e.ttlMs! || this.expiring.has(id)) continue;
      this.expiring.add(id);
      const timeout = (this.opts.electionTimeoutMs ?? 1000) * 2;
      this.submit({ op: 'expire', key: e.key, index: e.index }, timeout)
        .catch(() => undefined) // retried on a later tick if still due
        .finally(() => this.expiring.delete(id));
    }
    this.firstSeen = seen;
  }
}

function unavailable(e: unknown): unknown {
  return e instanceof RaftTimeoutError ? new KvUnavailableError(e.message, { cause: e }) : e;
}
