/**
 * The agent: one HA cycle every loop_wait, woken early by DCS watch events (leader change or
 * expiry) and by REST requests or finished long actions. Each cycle gathers facts, calls the pure
 * `decide`, runs the plan, and publishes the member key.
 */
import type { ApiBackend, NodeStatus, RestartRequest } from '../api/backend.js';
import { HaMetrics } from '../api/ha-metrics.js';
import { effectiveConfig, type EffectiveConfig, type LoadedConfig } from '../config/index.js';
import type { Dcs } from '../dcs/facade.js';
import type { HttpClient } from '../di.js';
import { DcsError, FatalError } from '../errors.js';
import { decide, needsPeerStatuses } from '../ha/decide.js';
import { isFailoverPossible } from '../ha/health.js';
import { applyEvents, publishedRole } from '../ha/memory.js';
import { freshMemory, type AgentMemory, type HaEvent, type HaInput, type HaSettings, type PgFacts, type ScheduledRestart } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { Tags } from '../model/member.js';
import { systemClock, type Clock } from '../util/clock.js';
import { isPlainObject } from '../util/json.js';
import { executePlan, reinitialize } from './executor.js';
import { LongActionRunner } from './long-action.js';
import { memberData, publishedTags } from './member-data.js';
import { contradictoryTagWarnings } from './tag-warnings.js';
import { patroniCachedDynamic, type DynamicConfigCache } from './dynamic-cache.js';
import { fetchPeerStatuses } from './peers.js';
import type { PostgresPort } from './postgres-port.js';
import { memberUrls } from './urls.js';
import type { PrimaryGuard } from '../fence/guard.js';
import { fenceTiming } from '../fence/timing.js';
import { handover } from './handover.js';
import { SyncRunner, syncSettings } from './sync-runner.js';
import type { FollowTarget } from './postgres-port.js';

export interface AgentDeps {
  readonly local: LoadedConfig;
  readonly dcs: Dcs;
  readonly pg: PostgresPort;
  readonly logger: Logger;
  readonly http: HttpClient;
  readonly version: string;
  readonly clock?: Clock;
  /** Re-read the local configuration (SIGHUP, POST /reload). */
  readonly reloadLocal?: () => LoadedConfig | Promise<LoadedConfig>;
  /** Called when the role changes (the fence and callbacks hook here). */
  readonly onRoleChange?: (role: 'primary' | 'replica' | 'demoted') => void;
  /** The fence and kernel watchdog guarding this node while it is primary. */
  readonly guard?: PrimaryGuard;
  /** patroni.dynamic.json in the data directory. */
  readonly dynamicCache?: Pick<DynamicConfigCache, 'save'>;
}

export class Agent implements ApiBackend {
  readonly name: string;
  readonly scope: string;
  readonly version: string;
  readonly dcs: Dcs;
  private local: LoadedConfig;
  private eff: EffectiveConfig;
  /** Memory as the last decision returned it; only `decide` changes it. */
  private memory: AgentMemory = freshMemory;
  /** What happened since the last decision (executor, long actions, shutdown): the next input's events. */
  private events: HaEvent[] = [];
  private readonly long: LongActionRunner;
  private readonly clock: Clock;
  private oldCluster: Cluster | null = null;
  private lockSentAt: number | null = null;
  private cycleStartedAt = 0;
  private decision: { message: string; reason: string | null } = { message: 'starting', reason: null };
  private scheduled: Record<string, unknown> | null = null;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private lastStatus: NodeStatus | null = null;
  /** HA cycle and DCS call durations, for GET /metrics. */
  readonly metrics = new HaMetrics();
  /** synchronous_standby_names and `/sync` upkeep while this node is the leader. */
  private readonly sync: SyncRunner;

  constructor(private readonly deps: AgentDeps) {
    this.local = deps.local;
    this.name = String(deps.local.config.name);
    this.scope = String(deps.local.config.scope);
    this.version = deps.version;
    this.dcs = deps.dcs;
    this.clock = deps.clock ?? systemClock;
    this.dcs.onCall = (op, seconds, ok) => this.metrics.observeDcsCall(op, seconds, ok);
    this.eff = effectiveConfig(this.local.config, null);
    this.sync = new SyncRunner(this.name, deps.pg, deps.dcs, deps.logger);
    this.long = new LongActionRunner(deps.logger, () => this.dcs.wakeup(), () => this.clock.monotonic(), this.report);
    deps.pg.useRole(() => this.role());
    deps.pg.onPostmasterExit(() => {
      deps.logger.warn('postmaster exited unexpectedly');
      this.dcs.wakeup();
    });
  }

  private readonly report = (e: HaEvent): void => { this.events.push(e); };

  /**
   * The role to publish now: memory with the events not yet decided on (a key handed over during a
   * shutdown is `demoted` at once), over what the running server says. Nothing is kept.
   */
  private role(): string {
    return publishedRole(applyEvents(this.memory, this.events), this.deps.pg.liveRole, this.deps.pg.dataDirEmpty());
  }

  /** The configured tags as Patroni filters them (GET /patroni, the member key and the decisions see the same). */
  get tags(): Tags {
    const raw = this.local.config.tags;
    return new Tags(publishedTags(raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {}));
  }

  get settings() {
    const c = this.eff.cluster;
    return { ttl: c.ttl, loopWait: c.loopWait, paused: c.pause, failsafeMode: c.failsafeMode, synchronousMode: c.synchronousMode !== false };
  }

  private haSettings(): HaSettings {
    const c = this.eff.cluster;
    const pg = this.eff.config.postgresql as Record<string, unknown>;
    const methods = Array.isArray(pg.create_replica_methods) ? (pg.create_replica_methods as string[]) : ['basebackup'];
    return {
      ttl: c.ttl, loopWait: c.loopWait, retryTimeout: c.retryTimeout, maximumLagOnFailover: c.maximumLagOnFailover,
      primaryStartTimeout: c.primaryStartTimeout, checkTimeline: c.checkTimeline, paused: c.pause, primaryRaceBackoff: c.primaryRaceBackoff,
      usePgRewind: pg.use_pg_rewind === true,
      removeDataDirectoryOnRewindFailure: pg.remove_data_directory_on_rewind_failure === true,
      removeDataDirectoryOnDivergedTimelines: pg.remove_data_directory_on_diverged_timelines === true,
      canBootstrap: isPlainObject(this.local.config.bootstrap),
      sync: syncSettings(this.eff),
      watchdogUnavailable: this.deps.guard?.unavailable ?? false,
      hasNoLeaderReplicaMethod: methods.some((m) => {
        const sec = pg[m];
        return isPlainObject(sec) && (sec.no_leader || sec.no_master);
      }),
    };
  }

  /** Recompute the effective configuration when `/config` changed. */
  private applyDynamic(cluster: Cluster | null): void {
    const dynamic = cluster?.config && Object.keys(cluster.config.data).length ? cluster.config.data : null;
    const next = effectiveConfig(this.local.config, dynamic ?? (this.eff.dynamicSource === 'dcs' ? this.eff.dynamic : null));
    const t = next.timings;
    for (const w of next.warnings) if (!this.eff.warnings.includes(w)) this.deps.logger.warn(w);
    if (t.ttl !== this.eff.timings.ttl || t.loopWait !== this.eff.timings.loopWait || t.retryTimeout !== this.eff.timings.retryTimeout) {
      void this.dcs.reloadConfig(t).catch((e: unknown) => this.deps.logger.warn(`applying new timings: ${String(e)}`));
    }
    this.retimeFence(t);
    const pgChanged = JSON.stringify(next.config.postgresql) !== JSON.stringify(this.eff.config.postgresql);
    this.eff = next;
    if (pgChanged) {
      this.deps.logger.info('postgresql configuration changed; reloading PostgreSQL');
      try {
        this.deps.pg.applySettings(next.config.postgresql as Record<string, unknown>);
      } catch (e) {
        this.deps.logger.error(`cannot apply the new postgresql configuration: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** New ttl, loop_wait or safety_margin: the fence follows (a margin below 1 was refused at load and cannot come from the DCS). */
  private retimeFence(t: { ttl: number; loopWait: number; retryTimeout: number }): void {
    const guard = this.deps.guard;
    if (!guard) return;
    try {
      const timing = fenceTiming(t, this.local.config.watchdog);
      if (timing.fireAfter === guard.fireAfter) return;
      if (timing.warning) this.deps.logger.warn(timing.warning);
      void guard.retime(timing);
    } catch (e) {
      this.deps.logger.error(`fence timing: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** One HA cycle. Returns the status message (also logged). */
  async runCycle(): Promise<string> {
    const log = this.deps.logger;
    this.cycleStartedAt = this.clock.monotonic();
    let cluster: Cluster | null = null;
    try {
      cluster = await this.dcs.getCluster();
      if (cluster.leader) this.oldCluster = cluster;
      this.applyDynamic(cluster);
    } catch (e) {
      if (!(e instanceof DcsError)) throw e;
      log.error(`Error communicating with DCS: ${e.message}`);
    }
    let pg: PgFacts;
    try {
      pg = await this.deps.pg.facts();
    } catch (e) {
      return this.finish(`Error communicating with PostgreSQL. Will try again later (${e instanceof Error ? e.message : String(e)})`, null, cluster);
    }
    const base: Omit<HaInput, 'peers'> = {
      name: this.name, tags: this.tags, cluster, oldCluster: this.oldCluster, pg, settings: this.haSettings(),
      memory: applyEvents(this.memory, this.events), now: this.clock.now(), monotonic: this.clock.monotonic(),
      fence: !!this.deps.guard, scheduledRestart: this.scheduledDue(),
    };
    const peers = cluster && needsPeerStatuses(base) ? await fetchPeerStatuses(this.deps.http, this.name, cluster, this.oldCluster) : [];
    // The events taken here are the ones this decision folds in; later ones wait for the next.
    const events = this.events.splice(0);
    const { plan, memory } = decide({ ...base, memory: this.memory, events, peers });
    this.memory = memory;
    const ctx = {
      name: this.name, dcs: this.dcs, pg: this.deps.pg, logger: log, http: this.deps.http, long: this.long, cluster,
      dynamicConfig: () => this.eff.dynamic, monotonic: () => this.clock.monotonic(), wall: () => this.clock.now(),
      report: this.report,
      lockSentAt: async (t: number | null) => {
        this.lockSentAt = t;
        if (!this.eff.cluster.pause) await this.deps.guard?.lockRefreshed(t);
      },
      wakeup: () => this.dcs.wakeup(),
      guard: this.deps.guard,
      clearScheduledRestart: () => { this.scheduled = null; },
      onRoleChange: this.deps.onRoleChange,
      sync: this.sync,
    };
    let message: string;
    try {
      message = await executePlan(ctx, plan);
    } catch (e) {
      if (e instanceof FatalError) throw e;
      if (e instanceof DcsError) return this.finish('DCS is not accessible', plan.reason ?? null, null);
      log.error(`Unexpected exception: ${e instanceof Error ? e.stack : String(e)}`);
      return this.finish('Unexpected exception raised, please report it as a BUG', null, cluster);
    }
    const result = await this.finish(message, plan.reason ?? null, cluster);
    // As Patroni after each cycle: cache the dynamic configuration once PostgreSQL is initialized.
    if (this.role() !== 'uninitialized' && !this.long.running) {
      const raw = cluster?.config && Object.keys(cluster.config.data).length ? cluster.config.data : this.eff.dynamic;
      this.deps.dynamicCache?.save(patroniCachedDynamic(raw));
    }
    return result;
  }

  /** The scheduled restart as the decision sees it (a timer: due when `at` has passed). */
  private scheduledDue(): ScheduledRestart | null {
    const sched = this.scheduled;
    const at = typeof sched?.schedule === 'string' ? Date.parse(sched.schedule) : NaN;
    if (!sched || Number.isNaN(at)) return null;
    return { at, role: typeof sched.role === 'string' ? sched.role : null };
  }

  private async finish(message: string, reason: string | null, cluster: Cluster | null): Promise<string> {
    this.decision = { message, reason };
    this.deps.logger.info(message);
    if (cluster) await this.touchMember().catch((e: unknown) => this.deps.logger.warn(`touch member: ${String(e)}`));
    return message;
  }

  private async touchMember(): Promise<void> {
    const status = await this.deps.pg.nodeStatus().catch(() => null);
    this.lastStatus = status;
    const urls = memberUrls(this.local.config);
    const data = memberData({
      ...urls, version: this.version, state: this.deps.pg.state, role: this.role(), tags: this.tags.tags as Record<string, unknown>,
      status, checkpointAfterPromotePending: false, scheduledRestart: this.scheduled, paused: this.eff.cluster.pause,
      reason: this.decision.reason,
    });
    await this.dcs.touchMember(data);
    this.report({ type: 'member_published', walPosition: typeof data.xlog_location === 'number' ? data.xlog_location : null });
  }

  /** Run cycles until stop(). A fatal error ends the loop (the caller exits non-zero). */
  start(): Promise<void> {
    this.loopDone ??= (async () => {
      while (!this.stopping) {
        const started = this.clock.monotonic();
        // No input may end the agent: whatever a cycle cannot handle is logged and the next cycle runs.
        await this.runCycle().catch((e: unknown) => {
          if (e instanceof FatalError) throw e;
          this.deps.logger.error(`unexpected error in the HA cycle (continuing): ${e instanceof Error ? e.message : String(e)}`);
        });
        this.metrics.observeLoop((this.clock.monotonic() - started) / 1000);
        if (this.stopping) break;
        let left = Math.max(0, this.eff.cluster.loopWait - (this.clock.monotonic() - started) / 1000);
        // Wake when the primary_race_backoff ends rather than a whole loop_wait later.
        const since = this.memory.raceBackoffSince ?? 0;
        const backoffLeft = since ? (since + this.eff.cluster.primaryRaceBackoff * 1000 - this.clock.monotonic()) / 1000 : 0;
        if (backoffLeft > 0 && backoffLeft < left) left = backoffLeft;
        const cluster = this.dcs.cluster;
        if (cluster && cluster.leaderName && cluster.leaderName !== this.name) await this.dcs.watch(cluster.leader!.version, left);
        else if (cluster && cluster.leaderName === this.name) await this.dcs.nap(left);
        else await this.dcs.watch(null, left);
      }
    })();
    return this.loopDone;
  }

  /**
   * SIGTERM: stop PostgreSQL (fast) and release the leader key as soon as the shutdown checkpoint is
   * written, so a replica takes over without waiting for the TTL. In pause nothing is stopped.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.dcs.wakeup();
    await this.loopDone?.catch(() => undefined);
    this.long.cancel();
    await this.long.wait();
    if (this.eff.cluster.pause) {
      // In pause PostgreSQL keeps running unmanaged; the fence was already disarmed.
      await this.deps.guard?.close();
      return;
    }
    const cluster = this.dcs.cluster ?? (await this.dcs.getCluster().catch(() => null));
    const h = cluster && handover({
      name: this.name, dcs: this.dcs, http: this.deps.http, logger: this.deps.logger, cluster,
      onRelease: () => {
        this.lockSentAt = null;
        if (cluster.leaderName === this.name) this.report({ type: 'leader_released' });
      },
    });
    // A checkpoint first keeps the shutdown checkpoint (the write pause) short.
    await this.deps.pg.stop('fast', { checkpoint: true, onShutdown: (lsn) => h?.onShutdown(lsn) ?? Promise.resolve() });
    await h?.finish(await this.deps.pg.lastLsn().catch(() => null));
    await this.deps.guard?.close();
    // As Patroni's shutdown: publish the final state (`stopped`) once PostgreSQL is down.
    const running = await this.deps.pg.facts().then((f) => f.running, () => true);
    if (!running) {
      await this.touchMember().catch((e: unknown) => this.deps.logger.warn(`touch member: ${String(e)}`));
    }
  }

  // ---- ApiBackend ----
  nodeStatus(): Promise<NodeStatus> { return this.deps.pg.nodeStatus(); }
  isLeader(): boolean { return this.lockSentAt !== null && this.clock.monotonic() - this.lockSentAt < this.eff.cluster.ttl * 1000; }
  cachedCluster(): Cluster | null { return this.dcs.cluster; }
  lastCycleStartedAt(): number { return this.cycleStartedAt; }
  lastDecision() { return this.decision; }
  fenceStatus() { return { armed: this.deps.guard?.isArmed ?? false, watchdogFailed: this.deps.guard?.watchdog.failed ?? false }; }
  scheduledRestart() { return this.scheduled; }
  wakeup(): void { this.dcs.wakeup(); }

  async reloadConfig(): Promise<void> {
    if (!this.deps.reloadLocal) return;
    this.local = await this.deps.reloadLocal();
    for (const w of contradictoryTagWarnings(this.local.config.tags)) this.deps.logger.warn(w);
    this.applyDynamic(this.dcs.cluster);
    await this.deps.pg.reload().catch(() => undefined);
    this.dcs.wakeup();
  }

  async restart(req: RestartRequest): Promise<[boolean, string]> {
    const status = this.lastStatus ?? (await this.deps.pg.nodeStatus().catch(() => null));
    if (req.role && !(req.role === status?.role || (req.role === 'master' && status?.role === 'primary'))) return [false, 'restart conditions are not satisfied'];
    if (req.restartPending && !status?.pendingRestart) return [false, 'restart conditions are not satisfied'];
    if (this.long.running) return [false, `${this.long.running.label} already in progress`];
    const result = await this.long.run('restart', 'restart', (s) => this.deps.pg.restart(s));
    if (result === null) return [false, 'another action is already in progress'];
    return result === true ? [true, 'restarted successfully'] : [false, 'restart failed'];
  }

  scheduleRestart(req: RestartRequest): boolean {
    if (this.scheduled) return false;
    this.scheduled = { schedule: req.schedule ? req.schedule.date.toISOString() : null, ...(req.role ? { role: req.role } : {}), ...(req.postgresVersion ? { postgres_version: req.postgresVersion } : {}) };
    this.dcs.wakeup();
    return true;
  }

  deleteScheduledRestart(): boolean {
    const had = this.scheduled !== null;
    this.scheduled = null;
    return had;
  }

  async reinitialize(force: boolean): Promise<[boolean, string]> {
    // Patroni's order, on a fresh read of the DCS: no leader first, then "I am the leader" (the lock
    // is ours, whatever the cached view said).
    const cluster = await this.dcs.getCluster();
    if (!cluster.leader) return [false, 'Cluster has no leader, can not reinitialize'];
    if (cluster.leaderName === this.name || this.isLeader()) return [false, 'I am the leader, can not reinitialize'];
    if (this.long.running) {
      if (!force) return [false, `${this.long.running.label} already in progress`];
      this.long.cancel();
      await this.long.wait();
    }
    const source: FollowTarget = cluster.getCloneMember(this.name);
    // The same path as the plan's reinitialize; its end comes back as an event for the next decision.
    const started = reinitialize({ long: this.long, pg: this.deps.pg }, source);
    return started ? [true, 'reinitialize started'] : [false, 'reinitialize already in progress'];
  }

  async failoverPossible(cluster: Cluster, candidate: string | null): Promise<{ ok: boolean; reason: string }> {
    const peers = await fetchPeerStatuses(this.deps.http, this.name, cluster, null);
    const pg = await this.deps.pg.facts();
    const input: HaInput = {
      // The API already checked the candidate against /sync as Patroni's does (a failover may go to an async node).
      name: this.name, tags: this.tags, cluster, oldCluster: this.oldCluster, pg, peers, settings: { ...this.haSettings(), sync: undefined },
      memory: applyEvents(this.memory, this.events), now: this.clock.now(), monotonic: this.clock.monotonic(),
    };
    return isFailoverPossible(input, cluster, candidate);
  }
}
