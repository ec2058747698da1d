/**
 * Inputs and outputs of the HA decision function. The decision is pure: the agent gathers these
 * facts (DCS view, local PostgreSQL, peers, settings, clock), calls `decide`, and executes the plan.
 */
import type { Cluster } from '../model/cluster.js';
import type { Tags } from '../model/member.js';
import type { SlotOp, SlotRow } from '../slots/plan.js';

export type DemoteMode = 'offline' | 'graceful' | 'immediate' | 'immediate-nolock';

/** Long actions run in the background; the cycle keeps running (and refreshing the lock) meanwhile. */
export type LongActionName =
  | 'bootstrap' | 'post_bootstrap' | 'clone' | 'promote' | 'demote' | 'start' | 'restart'
  | 'rewind' | 'reinitialize';

/** Human-readable names used in Patroni's "X in progress" messages. */
export const LONG_ACTION_TEXT: Record<LongActionName, string> = {
  bootstrap: 'bootstrap', post_bootstrap: 'post-bootstrap', clone: 'bootstrap from leader', promote: 'promote',
  demote: 'demote', start: 'starting', restart: 'restart', rewind: 'running pg_rewind', reinitialize: 'reinitialize',
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
  /** server_version_num of the running server (replication slot rules depend on it); null when unknown. */
  readonly serverVersion?: number | null;
  /** Replication slots of the running server (not temporary ones); null/absent when unknown (not running, or not queried). */
  readonly slots?: readonly SlotRow[] | null;
  /** A replica's replay position (bytes): logical slot copies are never advanced past it. */
  readonly replayLsn?: number | null;
  /** Logical slot copies whose last advance failed for good (WAL gone, slot invalidated): copy them again. */
  readonly lostSlotCopies?: readonly string[];
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
  /** Patroni's primary_stop_timeout (s): in synchronous mode, a demotion's stop past it is aborted (immediate, then SIGKILL); 0 = off. */
  readonly primaryStopTimeout?: number;
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
  /** Patroni 4's member_slots_ttl (s): every node keeps slots for all members; 0 = only for those streaming from it. */
  readonly memberSlotsTtl?: number;
  /** `failsafe_mode` from the dynamic configuration (see failsafe.ts). */
  readonly failsafeMode?: boolean;
  /** A valid `standby_cluster` section: the lock holder is a standby leader and never promotes (see standby.ts). */
  readonly standbyCluster?: boolean;
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
  /** primary_start_timeout for the start under way (POST /restart `timeout`); cleared once PostgreSQL runs. */
  readonly startTimeout?: number;
  /** The last promotion was refused by the pre_promote script: release the lock (then back off). */
  readonly prePromoteFailed?: boolean;
  /**
   * `<leader>@<leader timeline>/<my position>` a running replica last checked its WAL against (a replica
   * that stopped streaming after a failover may hold WAL the new leader never had): checked once per value.
   */
  readonly divergenceCheckedFor?: string | null;
  /** Monotonic ms when the check for `divergenceCheckedFor` failed (the leader unreachable): retried after ttl. */
  readonly divergenceFailedAt?: number | null;
  /** Monotonic ms when primary_race_backoff started (0: not started; the agent resets it when a leader exists). */
  readonly raceBackoffSince?: number;
  /** My race for the initialize key failed without an answer: the create may have committed (see decide's abandonedRace). */
  readonly raceUnanswered?: boolean;
  /** Monotonic ms since which the initialize key has claimed a bootstrap race that nobody runs (see decide's abandonedRace). */
  readonly abandonedRaceSince?: number | null;
  /** My WAL position as published in the previous cycle's member key (Patroni's `_prev_wal_lsn`). */
  readonly prevWalPosition?: number | null;
  /**
   * The role Patroni would publish where the running server cannot tell: `demoted` from a demotion
   * (or the key's release during a shutdown) until the next start or promotion, `uninitialized`
   * while PGDATA is being created, else the last role PostgreSQL was started in. See `publishedRole`.
   */
  readonly role?: 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized' | null;
}

export const freshMemory: AgentMemory = {
  longAction: null, bootstrap: 'none', recovering: false, startFailed: false, startedAt: null,
  rewind: 'unknown', demoted: false, prePromoteBackoffUntil: 0,
};

/**
 * What happened since the previous decision, reported by the executor, the long-action runner and
 * the agent (as raft's Ready/Advance): `decide` folds these into memory before deciding, so memory
 * changes in one place. Events of one cycle's execution arrive with the next cycle's input.
 */
export type HaEvent =
  /** A long action started (by the plan, or by a REST request such as restart or reinitialize). */
  | { readonly type: 'long_action_started'; readonly name: LongActionName; readonly label: string; readonly since: number; readonly role?: 'primary' | 'replica' | 'standby_leader' }
  /** A long action ended; `ok` false on failure, an exception or cancellation. */
  | { readonly type: 'long_action_done'; readonly name: LongActionName; readonly ok: boolean; readonly role?: 'primary' | 'replica' | 'standby_leader'; readonly failure?: string }
  /** A restart was requested (REST, schedule): judged like a start, `seconds` is its primary_start_timeout. */
  | { readonly type: 'start_deadline'; readonly since: number; readonly seconds: number }
  /** A write to the leader key: acquired, refreshed or released, and whether the store confirmed it. */
  | { readonly type: 'lock'; readonly op: 'acquire' | 'update' | 'release'; readonly ok: boolean }
  /** PostgreSQL was demoted (stopped without the key) in this mode. */
  | { readonly type: 'demoted'; readonly mode: DemoteMode }
  /** The key was handed over during a shutdown: from now on the role is `demoted`. */
  | { readonly type: 'leader_released' }
  /** The result of comparing my timeline with the leader's (`unknown`: the check failed, at `at`). */
  | { readonly type: 'divergence'; readonly leader: string; readonly result: 'not_needed' | 'need_rewind' | 'need_reinit' | 'unknown'; readonly checkedFor?: string; readonly at?: number }
  /** The cluster was published after bootstrap (initialize, config and the leader key written). */
  | { readonly type: 'bootstrap_finished' }
  /** The race for the initialize key got no answer (a DCS error): whether it won is unknown. */
  | { readonly type: 'race_unanswered' }
  /** A finished bootstrap found another node leading: its data was moved aside, PGDATA is empty. */
  | { readonly type: 'bootstrap_lost' }
  /** The member key was written with this xlog_location (Patroni's `_last_wal_lsn`). */
  | { readonly type: 'member_published'; readonly walPosition: number | null };

/** A restart stored by `POST /restart` with a schedule (the timer `decide` watches). */
export interface ScheduledRestart {
  /** Wall clock ms when due. */
  readonly at: number;
  /** Only for this role (`primary`/`master`/`replica`); null: any. */
  readonly role: string | null;
  /** Only while the running server is older than this version. */
  readonly postgresVersion?: string | null;
  /** Only when a restart is pending (and whether one is, from the last status). */
  readonly restartPending?: boolean;
  readonly pendingNow?: boolean;
}

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
  /** What happened since the last decision; folded into memory first. */
  readonly events?: readonly HaEvent[];
  /** A fence (and maybe a kernel watchdog) guards this node: it must stand down when not needed. */
  readonly fence?: boolean;
  /** A restart requested with a schedule, if any. */
  readonly scheduledRestart?: ScheduledRestart | null;
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
  /** Remove an initialize key whose bootstrap race nobody runs (no data is touched). */
  | { readonly type: 'clear_initialize' }
  /** Another node leads: stop this node's unpublished bootstrap and move its data directory aside. */
  | { readonly type: 'abandon_bootstrap' }
  | { readonly type: 'clone'; readonly source: string | null }
  /** Standby cluster: clone the remote source, then start following it as the standby leader. */
  | { readonly type: 'bootstrap_standby_leader' }
  /** `standby`: a standby leader's bootstrap (no primary role change). */
  | { readonly type: 'finish_bootstrap'; readonly standby?: boolean }
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
  /**
   * `stopTimeout`: primary_stop_timeout (s) in synchronous mode. `syncOnly`: synchronous mode is
   * active, so only a member listed in `/sync` may take the key over (the handover waits for one).
   */
  | { readonly type: 'demote'; readonly mode: DemoteMode; readonly stopTimeout?: number; readonly syncOnly?: boolean }
  /** `remote`: follow the standby_cluster source (a standby leader, or anyone while the standby cluster has no leader). */
  | { readonly type: 'start'; readonly role: 'primary' | 'replica' | 'standby_leader'; readonly leader: string | null; readonly remote?: boolean }
  /** Converge recovery settings on `leader` (the member to stream from; null: none; `remote`: the standby_cluster source). */
  | { readonly type: 'follow'; readonly leader: string | null; readonly remote?: boolean }
  /** Run the next cycle at once on a fresh DCS view (after losing the race: follow whoever won). */
  | { readonly type: 'refresh' }
  /** `checkedFor`: remembered as divergenceCheckedFor once the check has an answer. */
  | { readonly type: 'check_rewind'; readonly leader: string; readonly checkedFor?: string; readonly remote?: boolean }
  | { readonly type: 'rewind'; readonly leader: string; readonly remote?: boolean }
  /** DCS lost, failsafe on: POST /failsafe to every member of `/failsafe`; false unless all accept. */
  | { readonly type: 'failsafe_confirm' }
  | { readonly type: 'reinitialize'; readonly leader: string }
  | { readonly type: 'stop' }
  | { readonly type: 'cancel_long_action' }
  | { readonly type: 'update_history' }
  /** PostgreSQL is no longer a primary and the lock is not ours (or in pause): the fence stands down. */
  | { readonly type: 'stand_down_fence' }
  /**
   * Converge replication slots (Patroni's step 13): `ops` create, drop and advance; `copy`: logical
   * slots a replica copies from the primary (a restart); `errors`: configuration problems to log.
   */
  | { readonly type: 'sync_slots'; readonly ops: readonly SlotOp[]; readonly copy: readonly string[]; readonly errors: readonly string[] }
  /** A scheduled restart fell due: run it (`skip`: its filters no longer match, drop it with this reason). */
  | { readonly type: 'scheduled_restart'; readonly skip?: string }
  | { readonly type: 'fatal'; readonly message: string };

/** Every action type `decide` emits, once (the exhaustiveness test checks each is reachable). */
export const ACTION_TYPES = {
  race_initialize: true, bootstrap: true, bootstrap_standby_leader: true, failsafe_confirm: true, post_bootstrap: true, cancel_initialization: true, clear_initialize: true, abandon_bootstrap: true, clone: true, finish_bootstrap: true,
  write_initialize: true, write_config: true, acquire_lock: true, update_lock: true, release_lock: true, clear_failover: true,
  promote: true, demote: true, start: true, follow: true, refresh: true, check_rewind: true, rewind: true, reinitialize: true,
  stop: true, cancel_long_action: true, update_history: true, stand_down_fence: true, sync_slots: true, scheduled_restart: true,
  sync_replication: true,
  fatal: true,
} as const satisfies Record<Action['type'], true>;

/**
 * The outcome of a cycle: actions to run in order, and the status message. When an action that
 * can lose (acquire_lock, update_lock, race_initialize) returns false, the executor stops and runs
 * `onFail` instead, whose message then stands.
 */
export interface Plan {
  readonly actions: readonly Action[];
  readonly message: string;
  readonly onFail?: Plan;
  /** When an action cannot reach the DCS (DcsError), run this instead (failsafe: a lock refresh that got no answer). */
  readonly onDcsError?: Plan;
  /** Why this node is not promoting or why it demoted: published in GET /patroni and its member key. */
  readonly reason?: string;
  /** Memory updates that follow from the decision itself (decide merges them into the returned memory). */
  readonly remember?: Partial<AgentMemory>;
}

/** decide's answer: the plan to execute and the memory for the next cycle. */
export interface Decision {
  readonly plan: Plan;
  readonly memory: AgentMemory;
}

export const plan = (message: string, ...actions: Action[]): Plan => ({ message, actions });

/** A check that either passes or says why not (the why is published as the member's reason). */
export interface Verdict {
  readonly ok: boolean;
  readonly reason: string;
}
