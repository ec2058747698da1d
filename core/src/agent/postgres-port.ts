/**
 * What the agent needs from PostgreSQL. The adapter over the PostgreSQL controller implements it;
 * keeping the agent on this narrow port keeps the executor readable and testable.
 */
import type { NodeStatus } from '../api/backend.js';
import type { PgFacts, DemoteMode } from '../ha/types.js';
import type { Leader } from '../model/values.js';
import type { Member } from '../model/member.js';

/** pg_stat_replication as synchronous replication reads it. */
export interface SyncPgStatus {
  /** The value in force (SHOW synchronous_standby_names). */
  readonly ssn: string;
  readonly synchronousCommit: string;
  /** pg_current_wal_flush_lsn() in bytes. */
  readonly flushLsn: number;
  readonly replication: ReadonlyArray<{ pid: number; name: string; state: string | null; syncState: string; write: number | null; flush: number | null; replay: number | null }>;
}

export type FollowTarget = Member | Leader | null;

export interface StopPortOptions {
  readonly checkpoint?: boolean;
  readonly onShutdown?: (checkpointLsn: number | null) => Promise<void>;
  /** `blockCallbacks`: no on_stop callback (a demotion's stop; its role change is announced by the next start). */
  readonly blockCallbacks?: boolean;
  /** primary_stop_timeout: past it the stop turns immediate, and past it again PostgreSQL is SIGKILLed. */
  readonly stopTimeoutMs?: number;
}

export interface PostgresPort {
  /** Facts for the decision: data directory, control data, process and one monitoring query. */
  facts(): Promise<PgFacts>;
  /** The richer status for GET /patroni. */
  nodeStatus(): Promise<NodeStatus>;
  /** Patroni's member `state` string (`running`, `stopped`, `starting`, `creating replica`...). */
  readonly state: string;
  /** What the running server says (pg_is_in_recovery), null when it is not running or not queryable. */
  readonly liveRole: 'primary' | 'replica' | null;
  /** PGDATA is missing or empty. */
  dataDirEmpty(): boolean;
  /** Where callbacks get the role they report (the agent's published role). */
  useRole(role: () => string): void;

  /** initdb or the custom bootstrap method, then start; true when PostgreSQL is up. */
  bootstrap(signal: AbortSignal): Promise<boolean>;
  /** Roles, post_bootstrap script, pg_hba; true on success. */
  postBootstrap(signal: AbortSignal): Promise<boolean>;
  /** Move PGDATA aside after a failed bootstrap; where it went (null: nothing to move). */
  moveDataDirAside(): Promise<string | null>;
  /** Why the last bootstrap or post_bootstrap failed (for the log). */
  readonly lastError: string | null;
  /** Run the create_replica_methods chain from `source` (null: no_leader methods only). */
  createReplica(source: FollowTarget, signal: AbortSignal, methods?: readonly string[]): Promise<boolean>;
  /** Remove PGDATA (reinitialize). */
  removeDataDirectory(): Promise<void>;

  /** Start as primary or as a replica following `leader`; true once accepting connections. */
  start(role: 'primary' | 'replica' | 'standby_leader', leader: FollowTarget, signal: AbortSignal): Promise<boolean>;
  /** Stop; `onShutdown` fires once the final checkpoint is written (graceful demotion releases the lock then). */
  /** `blockCallbacks`: no on_stop callback (a demotion's stop; its role change is announced by the next start). */
  stop(mode: 'fast' | 'immediate', opts?: StopPortOptions): Promise<boolean>;
  restart(signal: AbortSignal): Promise<boolean>;
  reload(): Promise<void>;
  promote(signal: AbortSignal): Promise<boolean>;
  /** Stop and record the mode; the agent restarts it as a replica afterwards. */
  demote(mode: DemoteMode, stopTimeoutMs?: number): Promise<void>;
  /**
   * Converge recovery settings on `leader` (primary_conninfo, primary_slot_name...). Applies what a
   * reload can; reports when only a restart can (the agent runs it as a long action).
   */
  follow(leader: FollowTarget): Promise<'unchanged' | 'reloaded' | 'restart_needed'>;
  /** Compare my timeline history with the leader's. */
  checkDiverged(leader: FollowTarget): Promise<'not_needed' | 'need_rewind' | 'need_reinit'>;
  rewind(leader: FollowTarget, signal: AbortSignal): Promise<boolean>;
  /** Timeline history of the running primary as `/history` lines. */
  timelineHistory(): Promise<Array<[number, number, string]>>;
  /** Last WAL position (primary: current LSN) or null. */
  lastLsn(): Promise<number | null>;
  /** Replication slot positions for `/status` (physical: restart_lsn, logical: confirmed_flush_lsn); null before PostgreSQL 11 or when not running. */
  replicationSlotLsns?(): Promise<Record<string, number> | null>;
  checkpoint(): Promise<void>;
  /** The effective `postgresql` section changed (dynamic configuration): apply it with a reload. */
  applySettings(postgresql: Readonly<Record<string, unknown>>): void;
  /**
   * Patroni's first-cycle on_start: an agent that found PostgreSQL already running (it started it in
   * an earlier life) announces it once, so callbacks (a virtual IP...) catch up. Optional.
   */
  announceRunning?(): void;
  /** The dynamic `standby_cluster` section changed (null: not a standby cluster); recovery settings follow it. */
  setStandbyCluster?(section: Readonly<Record<string, unknown>> | null): void;
  /** What synchronous replication needs from a running primary; null when it does not answer. */
  syncStatus(): Promise<SyncPgStatus | null>;
  /**
   * Set synchronous_standby_names (null: unset; undefined: the user's own value) in postgresql.conf
   * and reload when it changed; then make some WAL so the standbys report their positions.
   * Returns whether the value changed.
   */
  setSyncStandbyNames(value: string | null | undefined): Promise<boolean>;
  /** Called at once when the postmaster dies unexpectedly. */
  onPostmasterExit(cb: () => void): void;
  close(): Promise<void>;
}
