/**
 * Deterministic simulation of a whole cluster: N real agents in one process over one in-memory DCS,
 * fake PostgreSQL servers replicating to each other, a simulated clock, and a seeded schedule of
 * faults (crashes, freezes, partitions, DCS loss, switchovers, shutdowns). Invariants are checked
 * after every step; a failure names its seed, and the same seed replays the same run exactly.
 */
import { FatalError } from '../errors.js';
import { clusterBasePath, type DcsContext } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import { seededRandom, SimClock } from './clock.js';
import type { Durations, FakePostgres, SimWorld } from './fake-postgres.js';
import { SimNode, type NodeEnv, type SimTimings } from './node.js';
import { checkConvergence, checkSafety, type Durability } from './invariants.js';

export type Fault =
  | { readonly kind: 'pg_crash'; readonly node: string }
  | { readonly kind: 'node_crash'; readonly node: string; readonly ms: number }
  | { readonly kind: 'freeze'; readonly node: string; readonly ms: number }
  | { readonly kind: 'partition'; readonly node: string; readonly ms: number }
  /** The node's DCS calls (those named in `ops`, else all) take effect but their answers are lost: it sees errors for what it did. */
  | { readonly kind: 'lost_answers'; readonly node: string; readonly ms: number; readonly ops?: readonly string[] }
  | { readonly kind: 'dcs_loss'; readonly ms: number }
  | { readonly kind: 'switchover'; readonly candidate: string | null }
  | { readonly kind: 'shutdown'; readonly node: string | 'leader'; readonly ms: number };

export interface SimOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly timings?: SimTimings;
  /** Faults happen in [faultsFrom, faultsUntil); every fault has ended 30 s later; then `quietMs` to converge. */
  readonly faultsFrom?: number;
  readonly faultsUntil?: number;
  readonly quietMs?: number;
  readonly maxFaults?: number;
  /** A fixed schedule instead of the seeded one. */
  readonly faults?: ReadonlyArray<{ at: number; fault: Fault }>;
  /** Replication lag (ms) per node; default: seeded. */
  readonly lagMs?: (node: string) => number;
  readonly durability?: Durability;
  /** Tags per node (nostream, replicatefrom, nofailover...). */
  readonly tags?: (node: string) => Record<string, unknown>;
  /** When each agent first starts (ms); default: all at once (the initialize race decides the leader). */
  readonly bootAt?: (node: string) => number;
}

export class SimFailure extends Error {}

const TICK_MS = 1000;
const WRITE_MS = 200;

export class SimCluster implements SimWorld {
  readonly clock = new SimClock();
  readonly store = new MemoryStore(this.clock);
  readonly random: () => number;
  readonly nodes: SimNode[] = [];
  readonly trace: string[] = [];
  /** Every write a primary acknowledged: record id, node, time. */
  readonly writes: Array<{ id: string; node: string; at: number }> = [];
  readonly timings: SimTimings;
  readonly partitioned = new Set<string>();
  /** Nodes whose DCS answers are lost now, with the operations it applies to (null: all). */
  readonly answersLost = new Map<string, ReadonlySet<string> | null>();
  dcsDown = false;
  private seq = 0;
  private readonly recordTime = new Map<string, number>();
  private readonly lag = new Map<string, number>();
  private readonly lastWrite = new Map<string, number>();
  private events: Array<{ at: number; seq: number; what: string; fn: () => void }> = [];
  private readonly ctl: Dcs;
  private failure: string | null = null;

  constructor(readonly o: SimOptions) {
    this.random = seededRandom(o.seed);
    this.timings = o.timings ?? { ttl: 20, loopWait: 5, retryTimeout: 5 };
    const durations: Durations = { start: 1500, stop: 800, promote: 600, clone: 4000, rewind: 2000, bootstrap: 2000 };
    const env: NodeEnv = {
      clock: this.clock, store: this.store, world: this, timings: this.timings, durations, random: this.random,
      reachable: (a, b) => this.reachable(a, b), node: (n) => this.nodes.find((x) => x.name === n),
      // Most calls answer at once; one in fifty takes 0.1-3 s each way (a slow store or network).
      wake: (n) => this.wake(n), answerLost: (n, op) => this.answersLost.has(n) && (this.answersLost.get(n)?.has(op) ?? true), latency: () => (this.random() < 0.02 ? 100 + Math.floor(this.random() * 2900) : 0),
    };
    for (let i = 1; i <= (o.nodes ?? 3); i++) {
      const node = new SimNode(`n${i}`, env, o.tags?.(`n${i}`) ?? {});
      node.pg.onFinalFlush = (pg) => this.finalFlush(pg);
      this.nodes.push(node);
      this.lag.set(node.name, o.lagMs ? o.lagMs(node.name) : Math.floor(this.random() * 400));
    }
    const ctx: DcsContext = { name: 'ctl', scope: 'sim', namespace: '/service', basePath: clusterBasePath('/service', 'sim'), ...this.timings, ctl: true };
    this.ctl = new Dcs(new MemoryDriver(this.store, ctx), this.timings, this.clock.of('ctl'));
    // Non-leaders watch the leader key: a change (or expiry) wakes them.
    const leaderKey = `${ctx.basePath}/leader`;
    this.store.events.on('change', (key: string) => {
      if (key !== leaderKey) return;
      for (const n of this.nodes) if (n.dcs?.cluster?.leaderName !== n.name) this.wake(n.name, 0);
    });
  }

  // ---- SimWorld ----
  record(kind: string): string {
    const id = `${kind}#${++this.seq}`;
    this.recordTime.set(id, this.clock.monotonic());
    return id;
  }

  peer(from: string, name: string): FakePostgres | null {
    return this.reachable(from, name) ? this.nodes.find((n) => n.name === name)?.pg ?? null : null;
  }

  reachable(a: string, b: string): boolean {
    if (b === 'dcs') return !this.dcsDown && !this.partitioned.has(a);
    return !this.partitioned.has(a) && !this.partitioned.has(b);
  }

  get now(): number { return this.clock.monotonic(); }
  node(name: string): SimNode { return this.nodes.find((n) => n.name === name)!; }
  leaderName(): string | null { return this.store.get(`${clusterBasePath('/service', 'sim')}/leader`)?.value ?? null; }
  log(line: string): void {
    this.trace.push(`t=${(this.now / 1000).toFixed(2)} ${line}`);
    if (this.trace.length > 60) this.trace.shift();
  }

  at(at: number, what: string, fn: () => void): void {
    this.events.push({ at, seq: ++this.seq, what, fn });
    this.events.sort((x, y) => x.at - y.at || x.seq - y.seq);
  }

  wake(name: string, delay = 50): void {
    const n = this.nodes.find((x) => x.name === name);
    if (!n || !n.agent || n.down) return;
    n.nextCycle = Math.min(n.nextCycle, this.now + delay);
  }

  private runCycle(n: SimNode): void {
    const agent = n.agent!;
    n.cycling = true;
    const started = this.now;
    n.nextCycle = Infinity;
    n.cycleDone = agent.runCycle().then((message) => this.log(`${n.name}: ${message}`), (e: unknown) => {
      if (e instanceof FatalError && n.agent === agent) {
        this.log(`${n.name}: FATAL ${e.message}; the agent exits and is restarted`);
        n.killAgent();
        this.at(this.now + 5000, `${n.name} restarts`, () => n.boot());
      } else this.log(`${n.name}: cycle error ${String(e)}`);
    }).finally(() => {
      if (n.agent !== agent) return;
      n.cycling = false;
      n.nextCycle = Math.min(n.nextCycle, Math.max(this.now + 50, started + this.timings.loopWait * 1000));
    });
  }

  /** Client writes land on every server accepting them (a split brain shows up as two histories). */
  private write(): void {
    for (const n of this.nodes) {
      if (!n.pg.isPrimary) {
        this.lastWrite.delete(n.name);
        continue;
      }
      let last = this.lastWrite.get(n.name) ?? this.now;
      while (last + WRITE_MS <= this.now) {
        last += WRITE_MS;
        const id = this.record('write');
        n.pg.append(id);
        this.writes.push({ id, node: n.name, at: this.now });
      }
      this.lastWrite.set(n.name, last);
    }
  }

  /** Streaming: a replica receives its upstream's records older than its lag, while their histories agree. */
  replicate(all = false, only?: FakePostgres): void {
    for (const n of this.nodes) {
      const pg = n.pg;
      if (!pg.up || !pg.inRecovery || !pg.upstream) { pg.streaming = false; continue; }
      const src = this.peer(n.name, pg.upstream);
      if (only && src !== only) continue;
      if (!src || !(src.up || (all && src.running)) || !src.wal || !pg.sharesHistoryWith(src)) { pg.streaming = false; continue; }
      pg.streaming = true;
      const horizon = all ? Infinity : this.now - (this.lag.get(n.name) ?? 0);
      while (pg.position < src.position && (this.recordTime.get(src.wal[pg.position]!) ?? 0) <= horizon) pg.append(src.wal[pg.position]!);
      if (pg.position === src.position || src.history.every(([, at]) => at <= pg.position)) {
        pg.timeline = src.timeline;
        pg.history = [...src.history];
      }
    }
  }

  private finalFlush(pg: FakePostgres): void { this.replicate(true, pg); }

  /** Inject a fault now. */
  inject(f: Fault): void {
    this.log(`FAULT ${JSON.stringify(f)}`);
    const end = (ms: number, what: string, fn: () => void) => this.at(this.now + ms, what, fn);
    switch (f.kind) {
      case 'pg_crash':
        this.node(f.node).pg.crash();
        return;
      case 'node_crash': {
        const n = this.node(f.node);
        if (!n.agent) return;
        n.killAgent();
        void n.fence?.standDown();
        this.clock.drop(`fence:${n.name}`);
        n.pg.crash();
        end(f.ms, `${n.name} reboots`, () => n.boot());
        return;
      }
      case 'freeze':
        this.clock.freeze(`agent:${f.node}`);
        end(f.ms, `${f.node} thaws`, () => { this.clock.thaw(`agent:${f.node}`); this.wake(f.node, 0); });
        return;
      case 'partition':
        this.partitioned.add(f.node);
        end(f.ms, `${f.node} heals`, () => this.partitioned.delete(f.node));
        return;
      case 'lost_answers':
        this.answersLost.set(f.node, f.ops ? new Set(f.ops) : null);
        end(f.ms, `${f.node}'s answers come back`, () => this.answersLost.delete(f.node));
        return;
      case 'dcs_loss':
        this.dcsDown = true;
        end(f.ms, 'the DCS is back', () => { this.dcsDown = false; });
        return;
      case 'switchover': {
        const leader = this.leaderName();
        if (!leader) return;
        void this.ctl.manualFailover(leader, f.candidate === leader ? null : f.candidate).catch(() => false);
        for (const n of this.nodes) this.wake(n.name, 0);
        return;
      }
      case 'shutdown': {
        const n = this.node(f.node === 'leader' ? this.leaderName() ?? 'n1' : f.node);
        const agent = n.agent;
        if (!agent || n.down || n.frozen) return;
        n.down = true;
        n.nextCycle = Infinity;
        // As the agent's loop: the cycle in flight ends before the shutdown begins.
        void n.cycleDone.then(() => agent.stop()).finally(() => {
          if (n.agent !== agent) return;
          n.killAgent();
          end(f.ms, `${n.name} starts again`, () => n.boot());
        });
      }
    }
  }

  /** The faults to inject, made when due (`leader` means whoever leads then). */
  private schedule(): Array<{ at: number; make: () => Fault }> {
    if (this.o.faults) return this.o.faults.map(({ at, fault }) => ({ at, make: () => fault }));
    const from = this.o.faultsFrom ?? 20_000;
    const until = this.o.faultsUntil ?? 70_000;
    const r = this.random;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const names = this.nodes.map((n) => n.name);
    const count = 1 + Math.floor(r() * (this.o.maxFaults ?? 4));
    const out: Array<{ at: number; make: () => Fault }> = [];
    for (let i = 0; i < count; i++) {
      const at = Math.floor(from + r() * (until - from));
      const ms = 1000 + Math.floor(r() * 29_000);
      const node = r() < 0.5 ? 'leader' : pick(names);
      const resolved = () => (node === 'leader' ? this.leaderName() ?? pick(names) : node);
      const kind = pick(['pg_crash', 'node_crash', 'freeze', 'partition', 'lost_answers', 'dcs_loss', 'switchover', 'shutdown'] as const);
      const candidate = pick([null, ...names]);
      out.push({ at, make: () => this.fault(kind, resolved(), ms, candidate) });
    }
    return out.sort((x, y) => x.at - y.at);
  }

  private fault(kind: Fault['kind'], node: string, ms: number, candidate: string | null): Fault {
    switch (kind) {
      case 'pg_crash': return { kind, node };
      case 'switchover': return { kind, candidate };
      case 'dcs_loss': return { kind, ms: Math.min(ms, 15_000) };
      default: return { kind, node, ms };
    }
  }

  /** Run to the end; throws SimFailure naming the seed when an invariant breaks. */
  private started = false;
  private tick = 0;

  /** Boot the agents and arm the fault schedule (once). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const n of this.nodes) {
      const at = this.o.bootAt?.(n.name) ?? 0;
      if (at > 0) this.at(at, `${n.name} boots`, () => n.boot());
      else n.boot();
    }
    for (const { at, make } of this.schedule()) this.at(at, 'fault', () => this.inject(make()));
  }

  /** One scheduler step: advance to the next thing due (no later than `limit`), run it, check safety. */
  async step(limit = Infinity): Promise<void> {
    this.start();
    const nextCycle = Math.min(...this.nodes.map((n) => (n.agent && !n.cycling && !n.down && !n.frozen ? n.nextCycle : Infinity)));
    this.clock.advance(Math.min(this.clock.nextDue(), nextCycle, this.events[0]?.at ?? Infinity, this.tick, limit));
    while (this.events.length && this.events[0]!.at <= this.now) this.events.shift()!.fn();
    for (const n of this.nodes) if (n.agent && !n.cycling && !n.down && !n.frozen && n.nextCycle <= this.now) this.runCycle(n);
    if (this.tick <= this.now) {
      this.tick = this.now + TICK_MS;
      this.store.sweep();
    }
    await new Promise((r) => setImmediate(r));
    this.write();
    this.replicate();
    this.failure ??= checkSafety(this) ?? this.o.durability?.step?.(this) ?? null;
    if (this.failure) this.fail();
  }

  /** Step until `done` holds (true) or `ms` of simulated time passed (false). */
  async runUntil(done: () => boolean, ms: number): Promise<boolean> {
    const end = this.now + ms;
    while (!done()) {
      if (this.now >= end) return false;
      await this.step(end);
    }
    return true;
  }

  private fail(): never {
    throw new SimFailure(`seed ${this.o.seed}: ${this.failure} (at t=${(this.now / 1000).toFixed(2)} s)\n`
      + `replay: PGHA_SIM_SEED=${this.o.seed} npx vitest run core/src/sim/sim.test.ts\n${this.trace.join('\n')}`);
  }

  /**
   * Run to the end; throws SimFailure naming the seed when an invariant breaks. The end: the quiet
   * period is over, or sooner, once every fault has ended (none left to inject, every crashed or
   * stopped agent, frozen process, partition and DCS loss back) and the cluster has stayed converged
   * for ttl + 2 loop_waits: a leader key that is not being refreshed has expired by then.
   */
  async run(): Promise<void> {
    const faultsEnd = this.o.faults ? Math.max(0, ...this.o.faults.map((f) => f.at)) : this.o.faultsUntil ?? 70_000;
    const end = faultsEnd + 30_000 + (this.o.quietMs ?? 60_000);
    const stableMs = (this.timings.ttl + 2 * this.timings.loopWait) * 1000;
    let convergedSince: number | null = null;
    while (this.now < end) {
      await this.step(end);
      const settled = this.now > faultsEnd && this.events.length === 0 && this.nodes.every((n) => !n.down) && checkConvergence(this) === null;
      convergedSince = settled ? convergedSince ?? this.now : null;
      if (convergedSince !== null && this.now - convergedSince >= stableMs) break;
    }
    this.failure = checkConvergence(this) ?? this.o.durability?.end?.(this) ?? null;
    if (this.failure) this.fail();
  }
}
