/**
 * One simulated member: the real Agent (decide, executor, DCS facade) over a fake PostgreSQL, an
 * in-memory DCS reached through a link that can be cut or slowed, a fake fence that stops
 * PostgreSQL when its lease deadline passes unfed, and a fake HTTP client to its peers' GET /patroni.
 */
import { Agent, type AgentGuard } from '../agent/agent.js';
import type { LoadedConfig } from '../config/index.js';
import type { PghaConfig } from '../config/schema/index.js';
import { clusterBasePath, type DcsContext, type DcsDriver } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import type { HttpClient } from '../di.js';
import type { HttpAnswer } from '../util/http-request.js';
import { DcsError } from '../errors.js';
import { fenceTiming } from '../fence/timing.js';
import { silentLogger } from '../log.js';
import { MemoryDriver, type MemoryStore } from '../testing/memory-driver.js';
import type { SimClock } from './clock.js';
import { FakePostgres, type Durations, type SimWorld } from './fake-postgres.js';

export interface SimTimings { readonly ttl: number; readonly loopWait: number; readonly retryTimeout: number }

/** What a node needs from the simulation around it. */
export interface NodeEnv {
  readonly clock: SimClock;
  readonly store: MemoryStore;
  readonly world: SimWorld;
  readonly timings: SimTimings;
  readonly durations: Durations;
  readonly random: () => number;
  /** Is the link from `a` to `b` (a node or 'dcs') up? */
  reachable(a: string, b: string): boolean;
  node(name: string): SimNode | undefined;
  /** The agent asked for its next cycle now. */
  wake(name: string): void;
  /** Are the DCS's answers to `name`'s `op` calls lost now (the calls still take effect)? */
  answerLost(name: string, op: string): boolean;
  /** Extra DCS latency (ms) for one call from `name`. */
  latency(name: string): number;
}

const NETWORK_OPS = new Set(['loadCluster', 'attemptToAcquireLeader', 'updateLeader', 'deleteLeader', 'takeLeader', 'initialize',
  'cancelInitialization', 'touchMember', 'setConfigValue', 'setFailoverValue', 'setHistoryValue', 'setSyncStateValue',
  'deleteSyncState', 'writeStatus', 'writeFailsafe', 'writeLeaderOptime', 'deleteCluster']);

/** One boot of an agent process: once it dies, nothing it still had in flight may touch the world. */
interface Life { alive: boolean }
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

type Method = (...a: unknown[]) => unknown;

/**
 * A proxy whose methods are `wrap(method, name)`, made once per method (the agent reads these
 * objects' members thousands of times a run); other members read through.
 */
function wrapMethods<T extends object>(target: T, wrap: (method: Method, prop: string | symbol) => Method): T {
  const made = new Map<string | symbol, { method: Method; wrapped: Method }>();
  return new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const was = made.get(prop);
      if (was?.method === v) return was.wrapped;
      const wrapped = wrap(v as Method, prop);
      made.set(prop, { method: v as Method, wrapped });
      return wrapped;
    },
  });
}

/** Calls from a dead process never happen (they hang, as the process is gone). */
function mortal<T extends object>(target: T, life: Life): T {
  return wrapMethods(target, (v) => (...args: unknown[]) => (life.alive ? v.apply(target, args) : never()));
}

/** A driver whose calls take simulated time and fail with DcsError while the link to the DCS is down. */
function linkedDriver(inner: MemoryDriver, name: string, env: NodeEnv, life: Life): DcsDriver {
  const owner = `agent:${name}`;
  return wrapMethods(inner, (v, prop) => {
    if (!NETWORK_OPS.has(String(prop))) return v.bind(inner);
    return async (...args: unknown[]) => {
      if (!life.alive) return never();
      const there = env.latency(name);
      if (there > 0) await env.clock.sleep(owner, there);
      if (!env.reachable(name, 'dcs')) throw new DcsError(`${name} cannot reach the DCS`);
      if (!life.alive) return never();
      const r = await (v.apply(inner, args) as Promise<unknown>);
      const back = env.latency(name);
      if (back > 0) await env.clock.sleep(owner, back);
      // Done in the store, but the caller cannot know: a timeout as a real client sees one.
      if (env.answerLost(name, String(prop)) || !env.reachable(name, 'dcs')) throw new DcsError(`${name}: the DCS's answer to ${String(prop)} was lost`);
      return r;
    };
  }) as DcsDriver;
}

/** The fence: once fed, it stops PostgreSQL at the lease deadline unless fed again or stood down. */
class SimFence implements AgentGuard {
  readonly unavailable = false;
  readonly watchdog = { failed: false };
  fireAfter: number;
  fired = 0;
  private cancel: (() => void) | null = null;

  constructor(private readonly name: string, private readonly env: NodeEnv, private readonly pg: FakePostgres) {
    this.fireAfter = fenceTiming(env.timings, undefined).fireAfter;
  }

  get isArmed(): boolean { return this.cancel !== null; }

  async lockRefreshed(sentAt: number | null): Promise<void> {
    if (sentAt === null) return; // a lost lock must not extend the deadline
    this.cancel?.();
    this.cancel = this.env.clock.at(`fence:${this.name}`, sentAt + this.fireAfter * 1000, () => {
      this.cancel = null;
      this.fired++;
      this.pg.crash();
    });
  }

  async standDown(): Promise<void> {
    this.cancel?.();
    this.cancel = null;
  }

  async retime(t: { fireAfter: number }): Promise<void> { this.fireAfter = t.fireAfter; }
  async close(): Promise<void> { await this.standDown(); }
}

export class SimNode {
  readonly pg: FakePostgres;
  agent: Agent | null = null;
  fence: SimFence | null = null;
  dcs: Dcs | null = null;
  /** When the next HA cycle is due (Infinity: not scheduled). */
  nextCycle = Infinity;
  cycling = false;
  /** Settles when the HA cycle in flight ends (the real loop finishes it before a shutdown). */
  cycleDone: Promise<void> = Promise.resolve();
  private life: Life = { alive: false };
  /** The agent process is stopping (SIGTERM) or gone. */
  down = false;
  readonly tags: Record<string, unknown>;

  constructor(readonly name: string, private readonly env: NodeEnv, tags: Record<string, unknown> = {}) {
    this.pg = new FakePostgres(name, env.clock, env.world, env.durations);
    this.tags = tags;
  }

  get frozen(): boolean { return this.env.clock.isFrozen(`agent:${this.name}`); }

  /** Start (or restart) the agent process with fresh memory, as after a reboot. */
  boot(): void {
    const { env, name } = this;
    const t = env.timings;
    const config = {
      name, scope: 'sim', tags: this.tags,
      restapi: { listen: `${name}:8008`, connect_address: `${name}:8008` },
      postgresql: { connect_address: `${name}:5432`, listen: `${name}:5432`, data_dir: `/sim/${name}`, use_pg_rewind: true, remove_data_directory_on_rewind_failure: true },
      bootstrap: { dcs: { ttl: t.ttl, loop_wait: t.loopWait, retry_timeout: t.retryTimeout, maximum_lag_on_failover: 1048576, postgresql: { use_pg_rewind: true } } },
    } as unknown as PghaConfig;
    const local: LoadedConfig = { config, raw: {}, source: 'simulation', baseDir: '/', warnings: [], consumedEnv: [] };
    const ctx: DcsContext = { name, scope: 'sim', namespace: '/service', basePath: clusterBasePath('/service', 'sim'), ...t, ctl: false };
    const life: Life = { alive: true };
    this.life = life;
    const dcs = new Dcs(linkedDriver(new MemoryDriver(env.store, ctx), name, env, life), t, env.clock.of(`agent:${name}`));
    dcs.wakeup = () => env.wake(name);
    this.dcs = dcs;
    this.fence = new SimFence(name, env, this.pg);
    this.agent = new Agent({
      local, dcs, pg: mortal(this.pg, life), logger: silentLogger, http: this.http(), version: '3.0.2', clock: env.clock, guard: mortal(this.fence, life),
      sleep: (ms) => env.clock.sleep(`agent:${name}`, ms),
    });
    this.down = false;
    this.cycling = false;
    this.cycleDone = Promise.resolve();
    this.nextCycle = env.clock.monotonic() + Math.floor(env.random() * 500);
  }

  /** The agent process dies (SIGKILL): its timers go, PostgreSQL and the fence stay unless killed too. */
  killAgent(): void {
    this.life.alive = false;
    this.env.clock.drop(`agent:${this.name}`);
    this.env.clock.thaw(`agent:${this.name}`);
    this.agent = null;
    this.down = true;
    this.nextCycle = Infinity;
  }

  /** Patroni's GET /patroni as peers see it (unreachable: frozen, down, partitioned). */
  private http(): HttpClient {
    const from = this.name;
    return (async (url: string | URL | Request) => {
      const name = new URL(String(url)).hostname;
      const peer = this.env.node(name);
      if (!peer?.agent || peer.frozen || !this.env.reachable(from, name)) throw new Error(`${name} unreachable`);
      const st = await peer.agent.nodeStatus();
      const xlog = st.walLocation !== null ? { location: st.walLocation }
        : st.receivedLocation !== null ? { received_location: st.receivedLocation, replayed_location: st.replayedLocation } : undefined;
      const body = { state: st.state, role: st.role, timeline: st.timeline, ...(xlog ? { xlog } : {}), tags: peer.tags, watchdog_failed: false };
      return { ok: true, status: 200, json: async () => body } as unknown as HttpAnswer;
    }) as HttpClient;
  }
}
