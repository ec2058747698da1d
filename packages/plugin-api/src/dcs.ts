/**
 * The DCS driver contract. Drivers move bytes; the core parses them (one tolerant parser for every
 * backend) and adds the HA behaviour on top.
 *
 * Error rules (all methods):
 *  - the store unreachable, timed out, or refusing us: throw DcsError (transient);
 *  - a lost compare-and-swap / create race: return false, never throw.
 *
 * Timing-critical methods must finish within `retry_timeout` (the core also enforces a deadline):
 *  loadCluster, attemptToAcquireLeader, updateLeader.
 * Atomic (compare-and-create / compare-and-swap) methods: attemptToAcquireLeader, initialize(createNew),
 *  updateLeader, deleteLeader, setConfigValue/setFailoverValue/setSyncStateValue/deleteSyncState with a version.
 */

/** A key's modification version used for CAS (mod_revision, ModifyIndex, znode version, raft index...). */
export type Version = number | string;
/** Lease / session / ephemeral owner, when the backend has one. */
export type Session = number | string | null;

/** One stored key, relative to the cluster prefix: `leader`, `members/node1`, `optime/leader`, ... */
export interface DcsNode {
  readonly key: string;
  readonly value: string;
  readonly version: Version;
  readonly session?: Session;
}

/** The leader key as the core last read it (drivers rarely need more than the version). */
export interface LeaderKey {
  readonly version: Version;
  readonly session: Session;
  readonly name: string;
}

export interface DcsDriver {
  /** Read every key under `/<namespace>/<scope>/` in one consistent read. Within retry_timeout. */
  loadCluster(): Promise<DcsNode[]>;
  /** Atomically create `/leader` = my name bound to my lease/TTL. False if it exists. Within retry_timeout. */
  attemptToAcquireLeader(): Promise<boolean>;
  /**
   * Refresh the leader key/lease, conditioned on the value being my name. Within retry_timeout.
   * `leader` is the key as the loop last saw it (with my name). When the key is gone because the
   * lease/session/TTL that carried it ran out (a store outage longer than ttl, which failsafe mode
   * rides out), create it again on the current lease if it is still absent, and return true, as
   * Patroni's drivers do: the loop must not demote only because its refresh came before the view that
   * shows the key gone. A key deleted while the lease that carried it was alive was released on
   * purpose: return false and leave it absent. A key someone else holds: false, left alone.
   */
  updateLeader(leader: LeaderKey): Promise<boolean>;
  /**
   * When the renewal that keeps my leader key alive was sent: a `performance.now()` instant T such
   * that the store cannot expire the key before T + ttl seconds (the send time, never the answer's
   * arrival). Null when I hold no leader key. The core's fence stops PostgreSQL before T + ttl.
   */
  leaderLeaseSentAt(): number | null;
  /** Delete `/leader` only if it holds my name. */
  deleteLeader(leader: LeaderKey | null): Promise<boolean>;
  /** Unconditionally create/overwrite `/leader` with my name (bootstrap only). */
  takeLeader(): Promise<boolean>;
  /** createNew: atomically create `/initialize` = sysid (race); else overwrite it. */
  initialize(createNew: boolean, sysid: string): Promise<boolean>;
  cancelInitialization(): Promise<boolean>;
  /** Create/update `/members/<my name>` with the JSON of `data`, bound to my lease/TTL. */
  touchMember(data: Record<string, unknown>): Promise<boolean>;
  /** Version given: compare-and-swap on it; absent: unconditional write. */
  setConfigValue(value: string, version?: Version | null): Promise<boolean>;
  setFailoverValue(value: string, version?: Version | null): Promise<boolean>;
  setHistoryValue(value: string): Promise<boolean>;
  /** Returns the new version, or false when the CAS was lost. */
  setSyncStateValue(value: string, version?: Version | null): Promise<Version | false>;
  deleteSyncState(version?: Version | null): Promise<boolean>;
  writeStatus(value: string): Promise<boolean>;
  writeFailsafe(value: string): Promise<boolean>;
  /** Legacy `/optime/leader` for Patroni < 2.1 peers. */
  writeLeaderOptime(lastLsn: string): Promise<boolean>;
  /** Remove every key of the cluster (ctl `remove`). */
  deleteCluster(): Promise<boolean>;
  readonly ttl: number;
  setTtl(ttl: number): void | Promise<void>;
  setRetryTimeout(retryTimeout: number): void;
  /**
   * Wait up to timeoutMs for a change of the leader key (its version differs from `leaderVersion`,
   * or it disappears/expires). Resolves true when a change woke us, false on timeout or abort.
   * Must return promptly when `signal` aborts.
   */
  watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  /** Release client resources. */
  close(): Promise<void>;
}

/** What the core hands a DCS plugin's factory besides its config section and services. */
export interface DcsContext {
  /** This member's name (`name`). */
  readonly name: string;
  readonly scope: string;
  /** Namespace with leading slash, default `/service`. */
  readonly namespace: string;
  /** `/<namespace>/<scope>` without trailing slash, e.g. `/service/demo`. */
  readonly basePath: string;
  readonly ttl: number;
  readonly loopWait: number;
  readonly retryTimeout: number;
  /** Management-command mode: no lease/session, linearizable reads, nothing kept alive. */
  readonly ctl: boolean;
}
