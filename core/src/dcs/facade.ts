import { DcsError, ErrorCodes } from '../errors.js';
import type { Cluster } from '../model/cluster.js';
import { compareVersions, type Version } from '../model/member.js';
import { formatZonedTime, type ZonedTime } from '../model/timestamp.js';
import { SyncState, type Leader } from '../model/values.js';
import { sleep, STALL_GRACE_MS, STALL_MS, systemClock, withDeadline, type Clock } from '../util/clock.js';
import { compactJson, deepEqual } from '../util/json.js';
import { buildCluster } from './cluster-builder.js';
import type { DcsDriver, DcsNode } from './driver.js';
import { StatusSlots, memberSlotsTtlOf } from './status-slots.js';

export interface DcsTimings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/**
 * The seed's concrete AbstractDCS behaviour on top of any driver: cached cluster view with
 * `lastSeen`, status written only when changed, leader update = lock + status + failsafe,
 * failover/sync value formatting, a deadline on every call, and an interruptible watch.
 */
export class Dcs {
  private cached: Cluster | null = null;
  private built: { readonly nodes: readonly DcsNode[]; readonly cluster: Cluster } | null = null;
  private cachedValidTill = 0;
  private _lastSeen = 0;
  private lastStatus: Record<string, unknown> = {};
  private lastFailsafe: Record<string, string> | null = null;
  private lastLegacyLsn = 0;
  private readonly statusSlots = new StatusSlots();
  /** Ends the current watch or nap early (set while one runs). */
  private wake: (() => void) | null = null;
  private wakePending = false;
  private timings: DcsTimings;

  /** Told the duration of every DCS call (seconds) and whether it succeeded; feeds `GET /metrics`. */
  onCall: ((operation: string, seconds: number, ok: boolean) => void) | null = null;

  constructor(readonly driver: DcsDriver, timings: DcsTimings, private readonly clock: Clock = systemClock) {
    this.timings = { ...timings };
  }

  get ttl(): number { return this.timings.ttl; }
  get loopWait(): number { return this.timings.loopWait; }
  get retryTimeout(): number { return this.timings.retryTimeout; }
  /**
   * The last `/failsafe` value read or written (Patroni's `dcs.failsafe`): it survives a failed read,
   * which is exactly when a failsafe primary needs it.
   */
  get failsafe(): Record<string, string> | null { return this.lastFailsafe; }
  /** Unix seconds of the last successful cluster read. */
  get lastSeen(): number { return this._lastSeen; }

  /** Run a driver call with a deadline of retry_timeout: a hung store becomes a DcsError in time. */
  private call<T>(what: string, fn: () => Promise<T>, ms = this.timings.retryTimeout * 1000): Promise<T> {
    const started = this.clock.monotonic();
    const observe = (ok: boolean) => {
      try { this.onCall?.(what, (this.clock.monotonic() - started) / 1000, ok); } catch { /* metrics never fail a call */ }
    };
    return withDeadline(fn(), ms, () => new DcsError(`${what}: no answer from DCS within ${this.timings.retryTimeout}s`, { code: ErrorCodes.DCS_TIMEOUT }), this.clock)
      .then((v) => { observe(true); return v; }, (e: unknown) => {
        observe(false);
        if (e instanceof DcsError) throw e;
        throw new DcsError(`${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      });
  }

  /**
   * `call` for what a false failure would turn into a demotion: reading the cluster, acquiring and
   * refreshing the lock, the member key. A call that failed after running past its deadline by more
   * than STALL_MS did not meet a slow store: this process was stopped (SIGSTOP, a paused VM) while it
   * was in flight, and on waking its timers fired before the answer waiting in the socket was read.
   * One more attempt, within STALL_GRACE_MS, before the failure stands.
   */
  private async callAfterStall<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = this.clock.monotonic();
    try {
      return await this.call(what, fn);
    } catch (e) {
      if (!(e instanceof DcsError) || this.clock.monotonic() - started < this.timings.retryTimeout * 1000 + STALL_MS) throw e;
      return this.call(what, fn, STALL_GRACE_MS);
    }
  }

  /** Fresh view from the DCS. On failure the cache is dropped and the DcsError propagates. */
  async getCluster(): Promise<Cluster> {
    let cluster: Cluster;
    try {
      const nodes = await this.callAfterStall('load cluster', () => this.driver.loadCluster());
      // A driver that hands back the very same array (a watch-fed copy that has not changed) gets
      // the Cluster built from it last time: parsing every value again each cycle is an idle agent's work.
      cluster = this.built?.nodes === nodes ? this.built.cluster : buildCluster(nodes);
      this.built = { nodes, cluster };
    } catch (e) {
      this.resetCluster();
      throw e;
    }
    this._lastSeen = Math.floor(this.clock.now() / 1000);
    this.cached = cluster;
    this.cachedValidTill = this.clock.monotonic() + this.timings.ttl * 1000;
    this.lastStatus = {
      optime: cluster.lastLsn, ...(cluster.status.slots ? { slots: cluster.status.slots } : {}),
      ...(cluster.status.retainSlots?.length ? { retain_slots: cluster.status.retainSlots } : {}),
    };
    this.lastFailsafe = cluster.failsafe;
    return cluster;
  }

  /** Cached view if still valid (younger than ttl), else null. Lets the REST API avoid DCS reads. */
  get cluster(): Cluster | null {
    return this.cached && this.cachedValidTill > this.clock.monotonic() ? this.cached : null;
  }

  resetCluster(): void {
    this.cached = null;
    this.cachedValidTill = 0;
  }

  /** On success the retention of member slots named in `/status` restarts now (Patroni's acquire_leader_lock). */
  async attemptToAcquireLeader(): Promise<boolean> {
    const ok = await this.callAfterStall('acquire leader', () => this.driver.attemptToAcquireLeader());
    if (ok) this.statusSlots.reset(this.cached?.status.retainSlots ?? null, Math.floor(this.clock.now() / 1000));
    return ok;
  }
  takeLeader(): Promise<boolean> { return this.call('take leader', () => this.driver.takeLeader()); }
  initialize(createNew = true, sysid = ''): Promise<boolean> { return this.call('initialize', () => this.driver.initialize(createNew, sysid)); }
  cancelInitialization(): Promise<boolean> { return this.call('cancel initialization', () => this.driver.cancelInitialization()); }
  touchMember(data: Record<string, unknown>): Promise<boolean> { return this.callAfterStall('touch member', () => this.driver.touchMember(data)); }
  setConfigValue(value: string, version?: Version | null): Promise<boolean> { return this.call('set config', () => this.driver.setConfigValue(value, version)); }
  setFailoverValue(value: string, version?: Version | null): Promise<boolean> { return this.call('set failover', () => this.driver.setFailoverValue(value, version)); }
  setHistoryValue(value: string): Promise<boolean> { return this.call('set history', () => this.driver.setHistoryValue(value)); }
  deleteSyncState(version?: Version | null): Promise<boolean> { return this.call('delete sync', () => this.driver.deleteSyncState(version)); }
  deleteCluster(): Promise<boolean> { return this.call('delete cluster', () => this.driver.deleteCluster()); }

  /**
   * Refresh the lock; on success publish `/status` (if changed) and `/failsafe` (if given). `slots`:
   * the leader's replication slot positions (pg_replication_slots), published with `retain_slots`
   * as Patroni 4.1 does (status-slots.ts).
   */
  async updateLeader(leader: Leader, lastLsn: number | null, slots?: Record<string, number> | null,
    failsafe?: Record<string, string> | null): Promise<boolean> {
    const ok = await this.callAfterStall('update leader', () => this.driver.updateLeader(leader));
    if (ok && lastLsn) {
      const status: Record<string, unknown> = { optime: lastLsn };
      const cluster = this.cached;
      const built = cluster
        ? this.statusSlots.build({ cluster, myName: leader.name, slots: slots ?? null, lastLsn, memberSlotsTtl: memberSlotsTtlOf(cluster), now: Math.floor(this.clock.now() / 1000) })
        : { slots: slots && Object.keys(slots).length ? { ...slots } : null, retainSlots: null };
      status.slots = built.slots;
      status.retain_slots = built.retainSlots;
      await this.writeStatus(status);
    }
    if (ok && failsafe) await this.writeFailsafe(failsafe);
    return ok;
  }

  /**
   * The instant the fence's deadline counts from after a successful lock write sent at `sentAt`:
   * the driver's lease renewal time (which may be earlier than the write, e.g. an etcd keep-alive
   * sent before it), never later than the write itself.
   */
  leaderLeaseSentAt(sentAt: number): number {
    const t = this.driver.leaderLeaseSentAt();
    return t === null || !Number.isFinite(t) ? sentAt : Math.min(t, sentAt);
  }

  /**
   * Write `/status` only when it differs from what we last saw or wrote; legacy optime for old peers.
   * `slots`/`retain_slots` absent from `value` are carried over from the last status; null drops them.
   */
  async writeStatus(given: Record<string, unknown>): Promise<void> {
    const value: Record<string, unknown> = { ...given };
    for (const k of ['slots', 'retain_slots']) if (!(k in value) && this.lastStatus[k]) value[k] = this.lastStatus[k];
    for (const k of Object.keys(value)) if (value[k] === null || value[k] === undefined) delete value[k];
    if (!deepEqual(this.lastStatus, value) && (await this.call('write status', () => this.driver.writeStatus(compactJson(value))))) {
      this.lastStatus = value;
    }
    const min = this.cached?.minVersion;
    const lsn = Number(value.optime);
    if (min && compareVersions(min, [2, 1, 0]) < 0 && this.lastLegacyLsn !== lsn) {
      this.lastLegacyLsn = lsn;
      await this.call('write leader optime', () => this.driver.writeLeaderOptime(String(lsn)));
    }
  }

  async writeFailsafe(value: Record<string, string>): Promise<void> {
    if (!(this.lastFailsafe && deepEqual(this.lastFailsafe, value)) &&
      (await this.call('write failsafe', () => this.driver.writeFailsafe(compactJson(value))))) {
      this.lastFailsafe = value;
    }
  }

  /** Write `/failover` = `{"leader":..,"member":..,"scheduled_at":..}` (only the fields given). */
  manualFailover(leader: string | null, candidate: string | null, scheduledAt?: ZonedTime | null, version?: Version | null): Promise<boolean> {
    const data: Record<string, string> = {};
    if (leader) data.leader = leader;
    if (candidate) data.member = candidate;
    if (scheduledAt) data.scheduled_at = formatZonedTime(scheduledAt);
    return this.setFailoverValue(compactJson(data), version);
  }

  /** Patroni 4.1's `/sync` value: `{"leader":..,"quorum":N,"sync_standby":..}`, quorum 0 outside quorum mode (3.x ignores it). */
  static syncStateValue(leader: string | null, syncStandby: Iterable<string> | null, quorum?: number): Record<string, unknown> {
    const names = syncStandby ? [...syncStandby].sort() : [];
    return { leader, quorum: quorum ?? 0, sync_standby: names.length ? names.join(',') : null };
  }

  /** CAS-write `/sync`; returns the new SyncState, or null when the CAS was lost. */
  async writeSyncState(leader: string | null, syncStandby: Iterable<string> | null, version?: Version | null, quorum?: number): Promise<SyncState | null> {
    const value = Dcs.syncStateValue(leader, syncStandby, quorum);
    const ret = await this.call('set sync', () => this.driver.setSyncStateValue(compactJson(value), version));
    return ret === false ? null : SyncState.fromNode(ret, value);
  }

  /** Record the final LSN in `/status`, then release the lock (only if it is mine). */
  async deleteLeader(leader: Leader | null, lastLsn?: number | null): Promise<boolean> {
    if (lastLsn) await this.writeStatus({ optime: lastLsn });
    return !!leader && (await this.call('delete leader', () => this.driver.deleteLeader(leader)));
  }

  /** Apply new ttl / loop_wait / retry_timeout from the effective configuration. */
  async reloadConfig(t: Partial<DcsTimings>): Promise<void> {
    if (t.loopWait !== undefined) this.timings.loopWait = t.loopWait;
    if (t.retryTimeout !== undefined && t.retryTimeout !== this.timings.retryTimeout) {
      this.timings.retryTimeout = t.retryTimeout;
      this.driver.setRetryTimeout(t.retryTimeout);
    }
    if (t.ttl !== undefined && t.ttl !== this.timings.ttl) {
      this.timings.ttl = t.ttl;
      await this.driver.setTtl(t.ttl);
    }
  }

  /**
   * Sleep up to `timeoutS`, waking early when the leader key changes (driver watch) or when
   * `wakeup()` is called (REST request, finished long action). True when woken early.
   */
  async watch(leaderVersion: Version | null, timeoutS: number): Promise<boolean> {
    if (this.wakePending) {
      this.wakePending = false;
      return true;
    }
    const ac = new AbortController();
    this.wake = () => ac.abort();
    const started = this.clock.monotonic();
    try {
      const changed = await this.driver.watch(leaderVersion, Math.max(0, timeoutS * 1000), ac.signal);
      return changed || ac.signal.aborted;
    } catch {
      // A failing watch (store down) must not turn the loop into a busy spin: sleep out the nap.
      await sleep(Math.max(0, timeoutS * 1000 - (this.clock.monotonic() - started)), ac.signal);
      return ac.signal.aborted;
    } finally {
      this.wake = null;
      this.wakePending = false;
    }
  }

  /** Sleep up to `timeoutS` (a leader has nothing to watch), woken only by `wakeup()`. */
  async nap(timeoutS: number): Promise<boolean> {
    if (this.wakePending) {
      this.wakePending = false;
      return true;
    }
    // A timer and a resolver (no AbortController): a leader naps every cycle.
    let woken = false;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, timeoutS * 1000));
        this.wake = () => { woken = true; clearTimeout(timer); resolve(); };
      });
      return woken;
    } finally {
      this.wake = null;
      this.wakePending = false;
    }
  }

  /** Cut the current (or next) watch short. */
  wakeup(): void {
    if (this.wake) this.wake();
    else this.wakePending = true;
  }

  close(): Promise<void> { return this.driver.close(); }
}
