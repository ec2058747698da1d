/**
 * An in-process cluster of KvMembers on a simulated network and clock, all randomness from one seed.
 * The network drops, delays (hence reorders) and duplicates messages and honours partitions;
 * members crash (volatile state lost, MemoryStorage kept) and restart. Invariants are recorded as
 * the run goes: leaders per term, and the entry every node applied at each index.
 */
import type { Entry, NodeId } from '../raft/messages.js';
import type { WireMessage } from '../raft/node.js';
import { MemoryStorage } from '../raft/storage.js';
import { KvMember } from '../kv/member.js';
import { prng } from './prng.js';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export interface SimOptions {
  seed: number;
  size: number;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  snapshotEvery?: number;
  tickMs?: number;
}

interface InFlight { at: number; seq: number; from: NodeId; message: WireMessage }

/** An applied entry as first seen, with the simulated time it was first applied anywhere. */
export interface AppliedRecord { readonly term: number; readonly data: string; readonly result: string; readonly at: number }

export class SimCluster {
  readonly rng: () => number;
  readonly ids: NodeId[];
  now = 0;
  faults: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };
  readonly members = new Map<NodeId, KvMember | null>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  /** index -> the entry applied there (must be the same on every node). */
  readonly applied = new Map<number, AppliedRecord>();
  /** term -> the node that was leader in it. */
  readonly leaders = new Map<number, NodeId>();
  readonly violations: string[] = [];
  /** Delivered messages by type (to show which paths a run exercised). */
  readonly delivered = new Map<string, number>();
  private queue: InFlight[] = [];
  private seq = 0;
  private blocked = new Set<string>();
  private timers: { at: number; fire: () => void }[] = [];

  constructor(readonly opts: SimOptions) {
    this.rng = prng(opts.seed);
    this.ids = Array.from({ length: opts.size }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      this.storages.set(id, new MemoryStorage());
      this.start(id);
    }
  }

  member(id: NodeId): KvMember | null { return this.members.get(id) ?? null; }
  live(): KvMember[] { return [...this.members.values()].filter((m): m is KvMember => m !== null); }

  private start(id: NodeId): void {
    const member: KvMember = new KvMember({
      id, members: this.ids, storage: this.storages.get(id)!,
      transport: { send: (to, m) => this.send(id, to, m) },
      now: () => this.now, random: this.rng,
      electionTimeoutMs: this.opts.electionTimeoutMs ?? 150, heartbeatMs: this.opts.heartbeatMs ?? 30,
      snapshotEvery: this.opts.snapshotEvery ?? 25,
      onApplied: (e, result) => this.recordApplied(id, e, result),
    });
    this.members.set(id, member);
  }

  crash(id: NodeId): void {
    const m = this.members.get(id);
    if (!m) return;
    void m.close();
    this.members.set(id, null);
  }

  restart(id: NodeId): void {
    if (!this.members.get(id)) this.start(id);
  }

  /** Cut the network between the two groups (both directions). */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) for (const y of b) {
      this.blocked.add(`${x}>${y}`);
      this.blocked.add(`${y}>${x}`);
    }
  }

  heal(): void { this.blocked.clear(); }

  /** A promise resolved after `ms` of simulated time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.push({ at: this.now + ms, fire: resolve }));
  }

  /** Advance simulated time, delivering messages and ticking members; lets promises settle. */
  async run(ms: number): Promise<void> {
    const tick = this.opts.tickMs ?? 5;
    const end = this.now + ms;
    while (this.now < end) {
      this.now += tick;
      this.queue.sort((x, y) => x.at - y.at || x.seq - y.seq);
      while (this.queue.length && this.queue[0]!.at <= this.now) {
        const f = this.queue.shift()!;
        const target = this.members.get(f.message.to);
        if (target) this.delivered.set(f.message.type, (this.delivered.get(f.message.type) ?? 0) + 1);
        target?.receive(f.message);
        this.checkLeaders();
      }
      for (const m of this.live()) m.tick();
      this.checkLeaders();
      const due = this.timers.filter((t) => t.at <= this.now);
      this.timers = this.timers.filter((t) => t.at > this.now);
      for (const t of due) t.fire();
      await new Promise((r) => setImmediate(r));
    }
  }

  private send(from: NodeId, to: NodeId, message: WireMessage): void {
    if (this.blocked.has(`${from}>${to}`) || this.rng() < this.faults.dropRate) return;
    const copies = this.rng() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const { minDelayMs: lo, maxDelayMs: hi } = this.faults;
      // Cloned: a real network never shares objects between sender and receiver.
      this.queue.push({ at: this.now + lo + Math.floor(this.rng() * (hi - lo + 1)), seq: ++this.seq, from, message: structuredClone(message) });
    }
  }

  private checkLeaders(): void {
    for (const m of this.live()) {
      if (!m.node.isLeader) continue;
      const term = m.node.core.term;
      const known = this.leaders.get(term);
      if (known === undefined) this.leaders.set(term, m.id);
      else if (known !== m.id) this.violations.push(`two leaders in term ${term}: ${known} and ${m.id}`);
    }
  }

  private recordApplied(node: NodeId, e: Entry, result: unknown): void {
    const rec: AppliedRecord = { term: e.term, data: e.data, result: JSON.stringify(result ?? null), at: this.now };
    const first = this.applied.get(e.index);
    if (!first) this.applied.set(e.index, rec);
    else if (first.term !== rec.term || first.data !== rec.data || first.result !== rec.result) {
      this.violations.push(`${node} applied a different entry at ${e.index}: ${JSON.stringify(rec)} vs ${JSON.stringify(first)}`);
    }
  }

  /** Log matching: where two logs hold an entry with the same index and term, the entries and all before agree. */
  checkLogMatching(): void {
    const logs = this.live().map((m) => ({ id: m.id, byIndex: new Map(m.node.core.logEntries().map((e) => [e.index, e])) }));
    for (let i = 0; i < logs.length; i++) for (let j = i + 1; j < logs.length; j++) {
      const a = logs[i]!;
      const b = logs[j]!;
      let matchedAbove = false;
      const indexes = [...a.byIndex.keys()].filter((k) => b.byIndex.has(k)).sort((x, y) => y - x);
      for (const k of indexes) {
        const ea = a.byIndex.get(k)!;
        const eb = b.byIndex.get(k)!;
        if (ea.term === eb.term && ea.data !== eb.data) this.violations.push(`log matching: ${a.id}/${b.id} differ at ${k}`);
        if (matchedAbove && ea.term !== eb.term) this.violations.push(`log matching: ${a.id}/${b.id} agree above ${k} but not at it`);
        if (ea.term === eb.term) matchedAbove = true;
      }
    }
  }
}
