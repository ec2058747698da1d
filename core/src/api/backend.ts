/**
 * What the REST API needs from the agent. The agent implements it; the API layer (server, routing,
 * auth, health-check rules, JSON shapes) depends only on this.
 */
import type { Dcs } from '../dcs/facade.js';
import type { Cluster } from '../model/cluster.js';
import type { Tags } from '../model/member.js';
import type { ZonedTime } from '../model/timestamp.js';
import type { HaMetrics } from './ha-metrics.js';
import type { ProgressReport } from '../replica/progress.js';

/** Local PostgreSQL state as the API reports it (GET /patroni). */
export interface NodeStatus {
  /** `running`, `stopped`, `starting`, `creating replica`, ... (Patroni's states). */
  readonly state: string;
  /** `primary`, `replica`, `standby_leader`, `demoted`, `uninitialized`. */
  readonly role: string;
  readonly postmasterStartTime: string | null;
  readonly serverVersion: number | null;
  readonly timeline: number | null;
  /** Primary: current WAL LSN. */
  readonly walLocation: number | null;
  readonly receivedLocation: number | null;
  readonly replayedLocation: number | null;
  readonly replayedTimestamp: string | null;
  readonly replayPaused: boolean;
  /** `streaming` | `in archive recovery` | null. */
  readonly replicationState: string | null;
  readonly replication: ReadonlyArray<Record<string, unknown>>;
  readonly sysid: string | null;
  readonly pendingRestart: boolean;
  readonly pendingRestartReason: Readonly<Record<string, { old_value: string; new_value: string }>> | null;
  /** pgha: progress of a replica creation or restore running now (GET /patroni `progress`). */
  readonly progress?: ProgressReport | null;
}

export interface RestartRequest {
  readonly schedule?: ZonedTime | null;
  readonly role?: string | null;
  readonly postgresVersion?: string | null;
  readonly timeout?: number | null;
  readonly restartPending?: boolean;
}

export interface ApiBackend {
  readonly name: string;
  readonly scope: string;
  readonly version: string;
  readonly dcs: Dcs;
  readonly tags: Tags;
  /** Effective timings and flags. */
  readonly settings: { readonly ttl: number; readonly loopWait: number; readonly paused: boolean; readonly failsafeMode: boolean; readonly synchronousMode: boolean };

  /** Fresh local facts (one monitoring query; may be cached for a fraction of a second). */
  nodeStatus(): Promise<NodeStatus>;
  /** Holds the leader lock and refreshed it less than ttl ago. */
  isLeader(): boolean;
  /** The cached DCS view (null when stale or the DCS is unreachable). */
  cachedCluster(): Cluster | null;
  /** Monotonic ms when the last HA cycle started (for /liveness). */
  lastCycleStartedAt(): number;
  /** The message and reason of the last HA decision. */
  lastDecision(): { message: string; reason: string | null };
  /** Whether the software fence / watchdog is armed, and whether it failed. */
  fenceStatus(): { armed: boolean; watchdogFailed: boolean };
  /** HA cycle and DCS call durations for `GET /metrics` (absent: those metrics are not exported). */
  readonly metrics?: HaMetrics;
  /** Scheduled restart stored in the member key, if any. */
  scheduledRestart(): Record<string, unknown> | null;

  /**
   * Could a manual failover/switchover succeed now? Fetches peers' status (2 s timeout) and applies
   * the same rules the HA loop uses. `candidate` restricts to one member; null means any member but
   * the leader (only the sync standbys in synchronous mode). The API has already done the static
   * checks (leader name, candidate exists, sync standby). `reason` (when !ok) follows
   * `<action> is not possible: ` in the 412 reply, e.g. `no good candidates have been found`.
   */
  failoverPossible(cluster: Cluster, candidate: string | null): Promise<{ ok: boolean; reason: string }>;

  /** Failsafe mode is active now (the DCS is lost and the primary keeps running on peers' consent). */
  failsafeActive?(): boolean;
  /**
   * A failsafe ping from the primary (`POST /failsafe` body `{name, conn_url, api_url, slots}`).
   * Returns `'Accepted'`, or this node's LSN (number, also `Accepted`), or another message which the
   * API sends with 500 (e.g. `Running as a leader`). Absent: POST /failsafe answers 502.
   */
  updateFailsafe?(data: Record<string, unknown>): Promise<string | number> | string | number;

  /** Cut the HA loop's sleep short. */
  wakeup(): void;
  /** Re-read the configuration file (SIGHUP). */
  reloadConfig(): Promise<void>;
  /** Restart PostgreSQL now; resolves with [ok, message]. */
  restart(req: RestartRequest): Promise<[boolean, string]>;
  /** Store a scheduled restart; false if one exists already. */
  scheduleRestart(req: RestartRequest): boolean;
  deleteScheduledRestart(): boolean;
  /** Wipe and re-clone this replica (from the leader when `fromLeader`, else a clonefrom member or the leader); [ok, message]. */
  reinitialize(force: boolean, fromLeader?: boolean): Promise<[boolean, string]>;
}
