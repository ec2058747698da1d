/**
 * A fake PostgreSQL for whole-cluster simulations, implementing the agent's PostgresPort. It models
 * what HA decisions depend on: WAL as a list of unique records (a position is the list's length;
 * two servers share history up to a position when they hold the same record there), timelines,
 * promotion (an end-of-recovery record on a new timeline), clean shutdown (a shutdown checkpoint
 * record, reported to `onShutdown`), crashes, cloning, pg_rewind. Replication between servers is
 * driven by the simulation (`SimCluster.replicate`), as are writes. Slow steps take simulated time.
 */
import type { NodeStatus } from '../api/backend.js';
import type { DemoteMode, PgFacts } from '../ha/types.js';
import type { FollowTarget, PostgresPort } from '../agent/postgres-port.js';
import type { SimClock } from './clock.js';

export interface SimWorld {
  /** Another node's server, when `from` can reach it. */
  peer(from: string, name: string): FakePostgres | null;
  /** A new unique WAL record id. */
  record(kind: string): string;
}

export interface Durations {
  start: number; stop: number; promote: number; clone: number; rewind: number; bootstrap: number;
}

const SYSID = '7300000000000000001';
/** Bytes per WAL record as reported outside (positions, LSNs), so maximum_lag_on_failover means what it does. */
export const RECORD_BYTES = 65536;
const targetName = (t: FollowTarget): string | null => (t ? t.name : null);

export class FakePostgres implements PostgresPort {
  /** WAL records; null: empty data directory. */
  wal: string[] | null = null;
  timeline = 1;
  /** [parent timeline, switch position] per promotion. */
  history: Array<[number, number]> = [];
  running = false;
  starting = false;
  inRecovery = false;
  controlState: string | null = null;
  recoveryConfigured = false;
  /** The member this replica streams from (recovery settings); null: none. */
  upstream: string | null = null;
  /** Set by the simulation's replication step. */
  streaming = false;
  state = 'stopped';
  lastError: string | null = null;
  /** How many times the postmaster was started. */
  starts = 0;
  /** A clean-shutdown checkpoint was written (position just after it). */
  shutdownCheckpoint: number | null = null;
  private exitCb: (() => void) | null = null;
  private roleView: (() => string) | null = null;
  /** Bumped on every crash/stop so a start or promote in flight notices it was overtaken. */
  private epoch = 0;

  constructor(readonly name: string, private readonly clock: SimClock, private readonly world: SimWorld, private readonly d: Durations) {}

  private sleep(ms: number): Promise<void> { return this.clock.sleep(`pg:${this.name}`, ms); }
  get position(): number { return this.wal?.length ?? 0; }
  /** The end of WAL in bytes. */
  get lsn(): number { return this.position * RECORD_BYTES; }
  /** Up and answering queries (a stopping server refuses them). */
  get up(): boolean { return this.running && !this.starting && this.state !== 'stopping'; }
  /** Accepts writes. */
  get isPrimary(): boolean { return this.up && !this.inRecovery; }

  /** Append a record (a client write on a primary, a checkpoint...). */
  append(id: string): void { this.wal!.push(id); }

  /** The postmaster dies (kill -9, OOM, the fence). */
  crash(): void {
    if (!this.running) return;
    this.epoch++;
    this.running = false;
    this.starting = false;
    this.streaming = false;
    this.state = 'crashed';
    this.exitCb?.();
  }

  async facts(): Promise<PgFacts> {
    if (!this.wal) return { dataDirEmpty: true, sysid: null, controlState: null, running: this.running, starting: false, inRecovery: null, timeline: null, walPosition: null, recoveryConfigured: false };
    const up = this.up;
    return {
      dataDirEmpty: false, sysid: SYSID, controlState: this.controlState, running: this.running, starting: this.starting,
      inRecovery: up ? this.inRecovery : null, timeline: this.timeline, walPosition: up ? this.lsn : null,
      recoveryConfigured: this.recoveryConfigured, receiverStreaming: up && this.inRecovery ? this.streaming : null,
      serverVersion: 150000, slots: null,
    };
  }

  async nodeStatus(): Promise<NodeStatus> {
    const up = this.up;
    return {
      state: this.state, role: this.role(), postmasterStartTime: null, serverVersion: 150000, timeline: up ? this.timeline : null,
      walLocation: up && !this.inRecovery ? this.lsn : null, receivedLocation: up && this.inRecovery ? this.lsn : null,
      replayedLocation: up && this.inRecovery ? this.lsn : null, replayedTimestamp: null, replayPaused: false,
      replicationState: up && this.inRecovery ? (this.streaming ? 'streaming' : 'in archive recovery') : null, replication: [],
      sysid: this.wal ? SYSID : null, pendingRestart: false, pendingRestartReason: null,
    };
  }

  get liveRole(): 'primary' | 'replica' | null { return this.up ? (this.inRecovery ? 'replica' : 'primary') : null; }
  dataDirEmpty(): boolean { return this.wal === null; }
  useRole(role: () => string): void { this.roleView = role; }
  private role(): string { return this.roleView?.() ?? this.liveRole ?? 'replica'; }

  async bootstrap(): Promise<boolean> {
    this.state = 'initializing new cluster';
    await this.sleep(this.d.bootstrap);
    this.wal = [this.world.record('init')];
    this.timeline = 1;
    this.history = [];
    this.controlState = 'in production';
    this.recoveryConfigured = false;
    return this.start('primary', null);
  }

  async postBootstrap(): Promise<boolean> { return this.isPrimary; }
  async moveDataDirAside(): Promise<string | null> { this.wal = null; return `${this.name}.aside`; }
  async removeDataDirectory(): Promise<void> { this.wal = null; }

  async createReplica(source: FollowTarget, signal: AbortSignal): Promise<boolean> {
    const name = targetName(source);
    this.state = 'creating replica';
    this.wal = null;
    await this.sleep(this.d.clone);
    const src = name ? this.world.peer(this.name, name) : null;
    if (signal.aborted || !src?.running || src.starting || !src.wal) {
      this.state = 'stopped';
      return false;
    }
    this.copyFrom(src, name);
    this.state = 'stopped';
    return true;
  }

  async start(role: 'primary' | 'replica', leader: FollowTarget): Promise<boolean> {
    if (this.running) return true;
    if (!this.wal) return false;
    const epoch = ++this.epoch;
    this.starts++;
    this.running = true;
    this.starting = true;
    this.state = 'starting';
    this.inRecovery = role === 'replica';
    this.recoveryConfigured = role === 'replica';
    this.upstream = role === 'replica' ? targetName(leader) : null;
    await this.sleep(this.d.start);
    if (epoch !== this.epoch) return false;
    this.starting = false;
    this.state = 'running';
    this.controlState = this.inRecovery ? 'in archive recovery' : 'in production';
    return true;
  }

  async stop(mode: 'fast' | 'immediate', opts: { checkpoint?: boolean; onShutdown?: (lsn: number | null) => Promise<void> } = {}): Promise<boolean> {
    if (!this.running) {
      this.state = 'stopped';
      return true;
    }
    const epoch = ++this.epoch;
    this.state = 'stopping';
    const clean = mode === 'fast' && !this.starting;
    if (clean && !this.inRecovery) {
      // The shutdown checkpoint: the last record; replicas that receive it have everything.
      this.append(this.world.record('shutdown'));
      this.shutdownCheckpoint = this.position;
      void opts.onShutdown?.((this.position - 1) * RECORD_BYTES);
    }
    await this.sleep(clean ? this.d.stop : 0);
    // Walsenders send what is left to streaming replicas before the postmaster exits.
    if (clean && !this.inRecovery) this.onFinalFlush?.(this);
    if (epoch !== this.epoch && !this.running) return true;
    this.running = false;
    this.starting = false;
    this.streaming = false;
    this.state = 'stopped';
    this.controlState = clean ? (this.inRecovery ? 'shut down in recovery' : 'shut down') : this.controlState;
    return true;
  }

  /** Set by the simulation: the last replication round before a clean primary shutdown exits. */
  onFinalFlush: ((pg: FakePostgres) => void) | null = null;

  async restart(signal: AbortSignal): Promise<boolean> {
    const role = this.inRecovery ? 'replica' : 'primary';
    await this.stop('fast');
    const leader = this.upstream;
    if (signal.aborted) return false;
    return this.start(role, leader ? ({ name: leader } as FollowTarget) : null);
  }

  async reload(): Promise<void> {}

  async promote(signal: AbortSignal): Promise<boolean> {
    if (!this.running || this.starting) return false;
    if (!this.inRecovery) return true;
    const epoch = this.epoch;
    await this.sleep(this.d.promote);
    if (signal.aborted || epoch !== this.epoch || !this.running) return false;
    this.history.push([this.timeline, this.position]);
    this.timeline += 1;
    this.inRecovery = false;
    this.recoveryConfigured = false;
    this.upstream = null;
    this.streaming = false;
    this.controlState = 'in production';
    this.append(this.world.record('promote'));
    return true;
  }

  async demote(mode: DemoteMode): Promise<void> {
    await this.stop(mode === 'offline' ? 'fast' : 'immediate');
  }

  async follow(leader: FollowTarget): Promise<'unchanged' | 'reloaded' | 'restart_needed'> {
    if (!this.running) return 'unchanged';
    const name = targetName(leader);
    if (name === this.upstream && this.recoveryConfigured) return 'unchanged';
    this.upstream = name;
    this.recoveryConfigured = true;
    return 'reloaded';
  }

  /** Same history up to my end of WAL as `other`? (The record at my last position is the same.) */
  sharesHistoryWith(other: FakePostgres): boolean {
    if (!this.wal || !other.wal) return false;
    const n = this.wal.length;
    return n === 0 || (other.wal.length >= n && other.wal[n - 1] === this.wal[n - 1]);
  }

  // Synchronous replication is not modelled here (the runs use synchronous_mode off; the durability
  // hook stays for it): a primary reports no sync status and never changes synchronous_standby_names.
  async syncStatus(): Promise<null> { return null; }
  async setSyncStandbyNames(): Promise<boolean> { return false; }

  async checkDiverged(leader: FollowTarget): Promise<'not_needed' | 'need_rewind' | 'need_reinit'> {
    const name = targetName(leader);
    const src = name ? this.world.peer(this.name, name) : null;
    if (!src || !src.wal) throw new Error(`cannot reach ${name}`);
    return this.sharesHistoryWith(src) ? 'not_needed' : 'need_rewind';
  }

  async rewind(leader: FollowTarget, signal: AbortSignal): Promise<boolean> {
    const name = targetName(leader);
    await this.sleep(this.d.rewind);
    const src = name ? this.world.peer(this.name, name) : null;
    if (signal.aborted || this.running || !src?.wal || !src.running || !this.wal) return false;
    this.copyFrom(src, name);
    return true;
  }

  /** A clone and a rewind both leave this server a standby with `src`'s WAL, timeline and history. */
  private copyFrom(src: FakePostgres, name: string | null): void {
    this.wal = [...src.wal!];
    this.timeline = src.timeline;
    this.history = [...src.history];
    this.controlState = 'in archive recovery';
    this.recoveryConfigured = true;
    this.upstream = name;
  }

  async timelineHistory(): Promise<Array<[number, number, string]>> {
    return this.history.map(([tl, at]) => [tl, at * RECORD_BYTES, 'no recovery target specified']);
  }

  async lastLsn(): Promise<number | null> { return this.wal ? this.lsn : null; }
  async checkpoint(): Promise<void> {}
  async changeSlots(): Promise<void> {}
  applySettings(): void {}
  onPostmasterExit(cb: () => void): void { this.exitCb = cb; }
  async close(): Promise<void> {}
}
