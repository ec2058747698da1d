/**
 * Inputs and outputs of the HA decision function. The decision is pure: the agent gathers these
 * facts (DCS view, local PostgreSQL, peers, settings, clock), calls `decide`, and executes the plan.
 */
import type { Cluster } from '../model/cluster.js';
import type { Tags } from '../model/member.js';

export type DemoteMode = 'offline' | 'graceful' | 'immediate' | 'immediate-nolock';

/** Long actions run in the background; the cycle keeps running (and refreshing the lock) meanwhile. */
export type LongActionName =
  | 'bootstrap' | 'post_bootstrap' | 'clone' | 'promote' | 'demote' | 'start' | 'restart'
  | 'rewind' | 'reinitialize' | 'crash_recovery' | 'stop';

/** Human-readable names used in Patroni's "X in progress" messages. */
export const LONG_ACTION_TEXT: Record<LongActionName, string> = {
  bootstrap: 'bootstrap', post_bootstrap: 'post-bootstrap', clone: 'bootstrap from leader', promote: 'promote',
  demote: 'demote', start: 'starting', restart: 'restart', rewind: 'running pg_rewind', reinitialize: 'reinitialize',
  crash_recovery: 'doing crash recovery in a single user mode', stop: 'stopping',
};

/** What the agent knows about its own PostgreSQL. */
export interface PgFacts {
  /** PGDATA missing or empty. */
  readonly dataDirEmpty: boolean;
  /** Database system identifier from pg_controldata; null when PGDATA is not a valid cluster. */
  readonly sysid: string | null;
  /** pg_controldata "Database cluster state" (`in production`, `shut down`, `shut down in recovery`...). */
  readonly controlState: string | null;
  /** The postmaster process is alive. */
  readonly running: boolean;
  /** Started but not yet accepting connections. */
  readonly starting: boolean;
  /** pg_is_in_recovery(); null when unknown (not running or not queryable). */
  readonly inRecovery: boolean | null;
  readonly timeline: number | null;
  /** Primary: current WAL LSN; replica: max(received, replayed). Bytes. */
  readonly walPosition: number | null;
  /** standby.signal / recovery settings present in PGDATA (it would start as a replica). */
  readonly recoveryConfigured: boolean;
  /** A running replica's WAL receiver streams; null when not a running replica (or unknown). */
  readonly receiverStreaming?: boolean | null;
}

/** A peer's answer to `GET /patroni` during the leader race (null when unreachable). */
export interface PeerStatus {
  readonly name: string;
  readonly reachable: boolean;
  readonly inRecovery: boolean;
  readonly walPosition: number;
  readonly timeline: number | null;
  readonly nofailover: boolean;
  readonly failoverPriority: number;
  readonly watchdogFailed: boolean;
}

/** Settings from the effective configuration the decisions depend on. */
export interface HaSettings {
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  readonly maximumLagOnFailover: number;
  readonly primaryStartTimeout: number;
  readonly checkTimeline: boolean;
  readonly paused: boolean;
  readonly usePgRewind: boolean;
  readonly removeDataDirectoryOnRewindFailure: boolean;
  readonly removeDataDirectoryOnDivergedTimelines: boolean;
  /** The config has a `bootstrap` section (a node without one never initializes a cluster). */
  readonly canBootstrap: boolean;
  /** Replica methods that work without a source (`no_leader`). */
  readonly hasNoLeaderReplicaMethod: boolean;
  /** The fence cannot run or a required watchdog failed: this node must not act as a primary. */
  readonly watchdogUnavailable?: boolean;
  /** Patroni 4.1's `primary_race_backoff` (s): postpone the leader race while WAL from the old primary still moves; 0 = off. */
  readonly primaryRaceBackoff?: number;
  /** Synchronous replication; absent: off. */
  readonly sync?: SyncSettings;
}

/** synchronous_mode and its companions (reference §2.10); `mode` false when off or in a standby cluster. */
export interface SyncSettings {
  readonly mode: boolean | 'quorum';
  readonly strict: boolean;
  readonly nodeCount: number;
  readonly maxLagOnSyncnode: number;
}

/** What the agent remembers between cycles. */
export interface AgentMemory {
  /** The long action running now, and since when (monotonic ms). */
  readonly longAction: { readonly name: LongActionName; readonly label: string; readonly since: number } | null;
  /**
   * Bootstrap progress after winning the initialize race: `running` (initdb/custom method and first
   * start), `started` (PostgreSQL up, post_bootstrap next), `post_done` (roles created, publish the
   * cluster), `failed` (cancel initialization).
   */
  readonly bootstrap: 'none' | 'running' | 'started' | 'post_done' | 'failed';
  /** We tried to (re)start PostgreSQL in the previous cycle(s). */
  readonly recovering: boolean;
  /** The last start attempt failed. */
  readonly startFailed: boolean;
  /** Monotonic ms when PostgreSQL was last started (for primary_start_timeout). */
  readonly startedAt: number | null;
  /** Result of comparing my timeline history with the leader's (filled by the executor). */
  readonly rewind: 'unknown' | 'not_needed' | 'need_rewind' | 'need_reinit' | 'failed' | 'done';
  /** We were the primary and demoted ourselves; we must not start as primary again without the lock. */
  readonly demoted: boolean;
  /** Monotonic ms until which a failed pre_promote script blocks racing. */
  readonly prePromoteBackoffUntil: number;
  /**
   * `<leader>@<leader timeline>` a running replica last checked its WAL against (a replica that
   * stopped streaming after a failover may hold WAL the new leader never had): checked once per value.
   */
  readonly divergenceCheckedFor?: string | null;
  /** Monotonic ms when primary_race_backoff started (0: not started; the agent resets it when a leader exists). */
  readonly raceBackoffSince?: number;
  /** My WAL position as published in the previous cycle's member key (Patroni's `_prev_wal_lsn`). */
  readonly prevWalPosition?: number | null;
}

export const freshMemory: AgentMemory = {
  longAction: null, bootstrap: 'none', recovering: false, startFailed: false, startedAt: null,
  rewind: 'unknown', demoted: false, prePromoteBackoffUntil: 0,
};

export interface HaInput {
  readonly name: string;
  readonly tags: Tags;
  /** The DCS view; null when the DCS could not be read this cycle. */
  readonly cluster: Cluster | null;
  /** Last view that had a leader (members list for the health check). */
  readonly oldCluster: Cluster | null;
  readonly pg: PgFacts;
  /** Peer statuses, fetched when the cluster is unlocked or a failover is being judged. */
  readonly peers: readonly PeerStatus[];
  readonly settings: HaSettings;
  readonly memory: AgentMemory;
  /** Wall clock ms and monotonic ms. */
  readonly now: number;
  readonly monotonic: number;
  /** Randomness for choosing a clone source; defaults to Math.random. */
  readonly random?: () => number;
}

export type Action =
  | { readonly type: 'race_initialize' }
  | { readonly type: 'bootstrap' }
  | { readonly type: 'post_bootstrap' }
  | { readonly type: 'cancel_initialization' }
  | { readonly type: 'clone'; readonly source: string | null }
  | { readonly type: 'finish_bootstrap' }
  | { readonly type: 'write_initialize'; readonly sysid: string; readonly createNew: boolean }
  | { readonly type: 'write_config' }
  | { readonly type: 'acquire_lock' }
  | { readonly type: 'update_lock' }
  | { readonly type: 'release_lock' }
  | { readonly type: 'clear_failover' }
  /** `sync`: first make this node the `/sync` leader (a lost CAS postpones the promotion). */
  | { readonly type: 'promote'; readonly sync?: SyncSettings }
  /** The leader's synchronous-replication upkeep (synchronous_standby_names and `/sync`). */
  | { readonly type: 'sync_replication'; readonly sync: SyncSettings }
  | { readonly type: 'demote'; readonly mode: DemoteMode }
  | { readonly type: 'start'; readonly role: 'primary' | 'replica'; readonly leader: string | null }
  | { readonly type: 'crash_recovery' }
  /** Converge recovery settings on `leader`; `reload`: re-read the DCS first and follow whoever holds the lock. */
  | { readonly type: 'follow'; readonly leader: string | null; readonly reload?: boolean }
  /** `checkedFor`: remembered as divergenceCheckedFor once the check has an answer. */
  | { readonly type: 'check_rewind'; readonly leader: string; readonly checkedFor?: string }
  | { readonly type: 'rewind'; readonly leader: string }
  | { readonly type: 'reinitialize'; readonly leader: string }
  | { readonly type: 'stop' }
  | { readonly type: 'cancel_long_action' }
  | { readonly type: 'update_history' }
  | { readonly type: 'wait'; readonly seconds: number }
  | { readonly type: 'fatal'; readonly message: string };

/**
 * The outcome of a cycle: actions to run in order, and the status message. When an action that
 * can lose (acquire_lock, update_lock, race_initialize) returns false, the executor stops and runs
 * `onFail` instead, whose message then stands.
 */
export interface Plan {
  readonly actions: readonly Action[];
  readonly message: string;
  readonly onFail?: Plan;
  /** Why this node is not promoting or why it demoted: published in GET /patroni and its member key. */
  readonly reason?: string;
  /** Memory updates that follow from the decision itself. */
  readonly remember?: Partial<AgentMemory>;
}

export const plan = (message: string, ...actions: Action[]): Plan => ({ message, actions });

/** A check that either passes or says why not (the why is published as the member's reason). */
export interface Verdict {
  readonly ok: boolean;
  readonly reason: string;
}
