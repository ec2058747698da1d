/**
 * The agent: one HA cycle every loop_wait, woken early by DCS watch events (leader change or
 * expiry) and by REST requests or finished long actions. Each cycle gathers facts, calls the pure
 * `decide`, runs the plan, and publishes the member key.
 */
import type { ApiBackend, NodeStatus, RestartRequest } from '../api/backend.js';
import { HaMetrics } from '../api/ha-metrics.js';
import type { LoadedConfig } from '../config/index.js';
import type { Dcs } from '../dcs/facade.js';
import type { HttpClient } from '../di.js';
import { DcsError, FatalError } from '../errors.js';
import { decide, needsPeerStatuses } from '../ha/decide.js';
import { isFailoverPossible } from '../ha/health.js';
import { applyEvents, publishedRole } from '../ha/memory.js';
import { freshMemory, type AgentMemory, type HaEvent, type HaInput, type HaSettings, type PgFacts } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import type { Tags } from '../model/member.js';
import { systemClock, type Clock } from '../util/clock.js';
import { executePlan } from './executor.js';
import { LongActionRunner } from './long-action.js';
import { memberData } from './member-data.js';
import { contradictoryTagWarnings } from './tag-warnings.js';
import { patroniCachedDynamic, type DynamicConfigCache } from './dynamic-cache.js';
import { fetchPeerStatuses } from './peers.js';
import type { PostgresPort } from './postgres-port.js';
import { memberUrls } from './urls.js';
import type { PrimaryGuard } from '../fence/guard.js';
import { isStandbySection } from '../ha/standby-source.js';
import { FailsafeSide } from './failsafe-peers.js';
import { applySettings } from './apply-settings.js';
import { shutdownPostgres } from './shutdown.js';
import { reinitializeNow, restartNow, restartScheduled, scheduledDue, scheduledRestartData, type RestartContext } from './restart.js';
import { SlotKeeper, slotNameOnPrimary, type SlotsIO } from '../slots/index.js';
import { SyncRunner } from './sync-runner.js';
import { RunningConfig } from './running-config.js';

/** What the agent uses of the fence (PrimaryGuard; a simulation passes its own). */
export type AgentGuard = Pick<PrimaryGuard, 'lockRefreshed' | 'standDown' | 'unavailable' | 'isArmed' | 'fireAfter' | 'retime' | 'close'>
  & Partial<Pick<PrimaryGuard, 'failsafeConfirmed'>> & { readonly watchdog: { readonly failed: boolean } };

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
  readonly guard?: AgentGuard;
  /** patroni.dynamic.json in the data directory. */
  readonly dynamicCache?: Pick<DynamicConfigCache, 'save'> & Partial<Pick<DynamicConfigCache, 'load'>>;
  /** Connections for replication slot maintenance (absent: slots are not managed). */
  readonly slotsIO?: SlotsIO;
  /** Waiting inside actions (the shutdown handover's polls); a simulation passes its clock's. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class Agent implements ApiBackend {
  readonly name: string;
  readonly scope: string;
  readonly version: string;
  readonly dcs: Dcs;
  /** The local file, the effective configuration and the settings snapshot in force. */
  private readonly cfg: RunningConfig;
  /** Memory as the last decision returned it; only `decide` changes it. */
  private memory: AgentMemory = freshMemory;
  /** What happened since the last decision (executor, long actions, shutdown): the next input's events. */
  private events: HaEvent[] = [];
  private readonly failsafe: FailsafeSide; // failsafe mode: the pinging primary (replica side), the confirmation rounds (primary)
  private readonly long: LongActionRunner;
  private readonly clock: Clock;
  private oldCluster: Cluster | null = null;
  private lockSentAt: number | null = null;
  /** Shutting down in synchronous mode: published as `nosync` so the leader releases us first. */
  private leaving = false;
  private cycleStartedAt = 0;
  private decision: { message: string; reason: string | null } = { message: 'starting', reason: null };
  private scheduled: Record<string, unknown> | null = null;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private lastStatus: NodeStatus | null = null;
  /** The `/config` value last written to patroni.dynamic.json. */
  private dynamicSaved: unknown = null;
  /** HA cycle and DCS call durations, for GET /metrics. */
  readonly metrics = new HaMetrics();
  private readonly slots: SlotKeeper | undefined;
  private readonly sync: SyncRunner; // synchronous_standby_names and `/sync` upkeep while this node leads

  constructor(private readonly deps: AgentDeps) {
    this.name = String(deps.local.config.name);
    this.scope = String(deps.local.config.scope);
    this.version = deps.version;
    this.dcs = deps.dcs;
    this.clock = deps.clock ?? systemClock;
    this.dcs.onCall = (op, seconds, ok) => this.metrics.observeDcsCall(op, seconds, ok);
    // As Patroni: the cached /config stands in until the DCS has one (and restores it if it was wiped).
    this.cfg = new RunningConfig(this.name, deps.local, deps.dynamicCache?.load?.() ?? null, {
      logger: deps.logger,
      onEffective: (eff) => deps.pg.setStandbyCluster?.(isStandbySection(eff.cluster.standbyCluster) ? eff.cluster.standbyCluster : null),
      onSettings: (prev, next) => applySettings(prev, next, { dcs: this.dcs, guard: deps.guard, pg: deps.pg, logger: deps.logger }),
    });
    this.sync = new SyncRunner(this.name, deps.pg, deps.dcs, deps.logger);
    this.failsafe = new FailsafeSide({ name: this.name, http: deps.http, logger: deps.logger, monotonic: () => this.clock.monotonic(), ttl: () => this.cfg.eff.cluster.ttl,
      urls: () => memberUrls(this.cfg.local.config), topology: () => this.dcs.failsafe, pg: deps.pg, lastWal: () => this.memory.prevWalPosition ?? null,
      onConfirmed: async (sentAt) => { this.lockSentAt = sentAt; await this.deps.guard?.failsafeConfirmed?.(sentAt); } });
    this.long = new LongActionRunner(deps.logger, () => this.dcs.wakeup(), () => this.clock.monotonic(), this.report);
    this.slots = deps.slotsIO && new SlotKeeper(deps.slotsIO, deps.logger, () => ({ node: this.cfg.slotNode() }));
    deps.pg.useRole(() => this.role());
    deps.pg.onPostmasterExit(() => {
      deps.logger.warn('postmaster exited unexpectedly');
      this.dcs.wakeup();
    });
  }

  private readonly report = (e: HaEvent): void => { this.events.push(e); };
  /** Events the running cycle took for its decision (not yet in `memory`). */
  private inFlight: HaEvent[] = [];
  /** Memory with every event not yet decided on (nothing is kept). */
  private pendingMemory(): AgentMemory { return applyEvents(applyEvents(this.memory, this.inFlight), this.events); }

  /**
   * The role to publish now: memory with the events not yet decided on (a key handed over during a
   * shutdown is `demoted` at once), over what the running server says. Nothing is kept.
   */
  private role(): string {
    return publishedRole(this.pendingMemory(), this.deps.pg.liveRole, () => this.deps.pg.dataDirEmpty());
  }

  /** The configured tags as Patroni filters them (GET /patroni, the member key and the decisions see the same). */
  get tags(): Tags { return this.cfg.tags; }

  get settings() {
    const { ttl, loopWait, pause: paused, failsafeMode, synchronousMode } = this.cfg.eff.cluster;
    return { ttl, loopWait, paused, failsafeMode, synchronousMode: synchronousMode !== false };
  }

  private haSettings(): HaSettings { return this.cfg.haSettings(this.deps.guard?.unavailable ?? false); }

  /** Take in a new `/config` or local file (RunningConfig.apply); slots need the server's major version. */
  private applyDynamic(cluster: Cluster | null): void {
    this.cfg.apply(cluster, this.slots ? this.lastStatus?.serverVersion ?? 150000 : null);
  }

  /** One HA cycle. Returns the status message (also logged). */
  async runCycle(): Promise<string> {
    // Events are taken before any fact is read, so a decision never pairs an outcome with facts from
    // before it (a bootstrap that finished while its facts were read said "not running": cancelled).
    this.inFlight = this.events.splice(0);
    try {
      return await this.cycle();
    } finally {
      this.events.unshift(...this.inFlight); // not decided on (an early return): the next cycle's
      this.inFlight = [];
    }
  }

  private async cycle(): Promise<string> {
    const log = this.deps.logger;
    this.cycleStartedAt = this.clock.monotonic();
    let cluster: Cluster | null = null;
    try {
      cluster = await this.dcs.getCluster();
      if (cluster.leader) this.oldCluster = cluster;
      this.applyDynamic(cluster);
      if (this.cfg.eff.cluster.failsafeMode && cluster.isUnlocked()) cluster = this.failsafe.view(cluster); // a primary that pinged us leads
    } catch (e) {
      if (!(e instanceof DcsError)) throw e;
      log.error(`Error communicating with DCS: ${e.message}`);
    }
    let pg: PgFacts;
    try {
      pg = await this.deps.pg.facts();
      const lost = this.slots?.lostCopies();
      if (lost?.length) pg = { ...pg, lostSlotCopies: lost };
    } catch (e) {
      return this.finish(`Error communicating with PostgreSQL. Will try again later (${e instanceof Error ? e.message : String(e)})`, null, cluster);
    }
    const base: Omit<HaInput, 'peers'> = {
      name: this.name, tags: this.tags, cluster, oldCluster: this.oldCluster, pg, settings: this.haSettings(),
      memory: this.pendingMemory(), now: this.clock.now(), monotonic: this.clock.monotonic(),
      fence: !!this.deps.guard, scheduledRestart: scheduledDue(this.scheduled, this.lastStatus),
    };
    const peers = cluster && needsPeerStatuses(base) ? await fetchPeerStatuses(this.deps.http, this.name, cluster, this.oldCluster) : [];
    const { plan, memory } = decide({ ...base, memory: this.memory, events: this.inFlight, peers });
    this.memory = memory;
    this.inFlight = [];
    let dcsLost = false;
    const ctx = {
      name: this.name, dcs: this.dcs, pg: this.deps.pg, logger: log, http: this.deps.http, long: this.long, cluster,
      dynamicConfig: () => this.cfg.eff.dynamic, monotonic: () => this.clock.monotonic(), wall: () => this.clock.now(),
      report: this.report,
      lockSentAt: async (t: number | null) => {
        this.lockSentAt = t;
        if (!this.cfg.eff.cluster.pause && !isStandbySection(this.cfg.eff.cluster.standbyCluster)) await this.deps.guard?.lockRefreshed(t); // a standby leader is no primary
      },
      ...this.failsafe.executorHooks(() => this.cfg.eff.cluster, cluster), onDcsLost: () => { dcsLost = true; },
      wakeup: () => this.dcs.wakeup(),
      guard: this.deps.guard,
      sleep: this.deps.sleep,
      clearScheduledRestart: () => { this.scheduled = null; },
      restartScheduled: () => restartScheduled(this.restartContext(), this.scheduled),
      onRoleChange: this.deps.onRoleChange,
      slots: this.slots,
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
    if (!this.long.running && pg.running && !pg.starting) {
      this.deps.pg.announceRunning?.();
      if (pg.inRecovery && pg.slots && cluster?.leader && cluster.leaderName !== this.name) await this.slots?.checkReadiness(cluster, pg.slots, slotNameOnPrimary(cluster, this.name, this.tags));
    }
    if (cluster && cluster.leaderName === this.name) this.failsafe.reset(); // back on the DCS with the lock: failsafe is over
    const result = await this.finish(message, plan.reason ?? null, dcsLost ? null : cluster);
    // As Patroni after each cycle: cache the dynamic configuration once PostgreSQL is initialized.
    if (this.role() !== 'uninitialized' && !this.long.running) {
      const raw = cluster?.config && Object.keys(cluster.config.data).length ? cluster.config.data : this.cfg.eff.dynamic;
      // The same value as last cycle (the same object: the view is rebuilt only on a change) is written already.
      if (raw !== this.dynamicSaved && this.deps.dynamicCache?.save(patroniCachedDynamic(raw)) !== false) this.dynamicSaved = raw;
    }
    return result;
  }

  private async finish(message: string, reason: string | null, cluster: Cluster | null): Promise<string> {
    // log.deduplicate_heartbeat_logs: a cycle message equal to the previous one is not repeated at INFO.
    const repeat = this.cfg.local.config.log?.deduplicate_heartbeat_logs === true && message === this.decision.message;
    this.decision = { message, reason };
    if (repeat) this.deps.logger.debug(message);
    else this.deps.logger.info(message);
    if (cluster) await this.touchMember().catch((e: unknown) => this.deps.logger.warn(`touch member: ${String(e)}`));
    return message;
  }

  private async touchMember(): Promise<void> {
    const status = await this.deps.pg.nodeStatus().catch(() => null);
    this.lastStatus = status;
    const urls = memberUrls(this.cfg.local.config);
    const data = memberData({
      // Leaving in synchronous mode: the leader is asked to drop us from /sync first (shutdown.ts).
      ...urls, version: this.version, state: this.deps.pg.state, role: this.role(), tags: { ...this.tags.tags, ...(this.leaving ? { nosync: true, sync_priority: 0 } : {}) },
      status, checkpointAfterPromotePending: false, scheduledRestart: this.scheduled, paused: this.cfg.eff.cluster.pause,
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
        let left = Math.max(0, this.cfg.eff.cluster.loopWait - (this.clock.monotonic() - started) / 1000);
        // Wake when the primary_race_backoff ends rather than a whole loop_wait later.
        const since = this.memory.raceBackoffSince ?? 0;
        const backoffLeft = since ? (since + this.cfg.eff.cluster.primaryRaceBackoff * 1000 - this.clock.monotonic()) / 1000 : 0;
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
    if (this.cfg.eff.cluster.pause) {
      // In pause PostgreSQL keeps running unmanaged; the fence was already disarmed.
      await this.deps.guard?.close();
      return;
    }
    const cluster = this.dcs.cluster ?? (await this.dcs.getCluster().catch(() => null));
    const { name, dcs, deps: { pg, http, logger, sleep } } = this;
    await shutdownPostgres({
      name, pg, dcs, http, logger, sleep, cluster, settings: this.haSettings(), nosync: this.tags.nosync,
      announce: async (on) => { this.leaving = on; return this.touchMember().then(() => true, () => false); },
      onRelease: () => { this.lockSentAt = null; if (cluster?.leaderName === name) this.report({ type: 'leader_released' }); },
    });
    await this.deps.guard?.close();
    // As Patroni's shutdown: publish the final state (`stopped`) once PostgreSQL is down.
    const running = await this.deps.pg.facts().then((f) => f.running, () => true);
    if (!running) {
      await this.touchMember().catch((e: unknown) => this.deps.logger.warn(`touch member: ${String(e)}`));
    }
  }

  // ---- ApiBackend ----
  nodeStatus(): Promise<NodeStatus> { return this.deps.pg.nodeStatus(); }
  isLeader(): boolean { return this.lockSentAt !== null && this.clock.monotonic() - this.lockSentAt < this.cfg.eff.cluster.ttl * 1000; }
  cachedCluster(): Cluster | null { return this.dcs.cluster; }
  lastCycleStartedAt(): number { return this.cycleStartedAt; }
  lastDecision() { return this.decision; }
  fenceStatus() { return { armed: this.deps.guard?.isArmed ?? false, watchdogFailed: this.deps.guard?.watchdog.failed ?? false }; }
  scheduledRestart() { return this.scheduled; }
  failsafeActive(): boolean { return this.failsafe.active(); }
  updateFailsafe(data: Record<string, unknown>): Promise<string | number> { return this.failsafe.accept(data); }
  wakeup(): void { this.dcs.wakeup(); }

  async reloadConfig(): Promise<void> {
    if (!this.deps.reloadLocal) return;
    this.cfg.setLocal(await this.deps.reloadLocal());
    for (const w of contradictoryTagWarnings(this.cfg.local.config.tags)) this.deps.logger.warn(w);
    this.applyDynamic(this.dcs.cluster);
    await this.deps.pg.reload().catch(() => undefined);
    this.dcs.wakeup();
  }

  async restart(req: RestartRequest): Promise<[boolean, string]> {
    return restartNow(this.restartContext(), req, this.lastStatus ?? (await this.deps.pg.nodeStatus().catch(() => null)));
  }

  private restartContext(): RestartContext {
    return { long: this.long, pg: this.deps.pg, logger: this.deps.logger, report: this.report, monotonic: () => this.clock.monotonic(), primaryStartTimeout: this.cfg.eff.cluster.primaryStartTimeout };
  }

  scheduleRestart(req: RestartRequest): boolean {
    if (this.scheduled) return false;
    this.scheduled = scheduledRestartData(req);
    this.dcs.wakeup();
    return true;
  }

  deleteScheduledRestart(): boolean {
    const had = this.scheduled !== null;
    this.scheduled = null;
    return had;
  }

  async reinitialize(force: boolean, fromLeader = false): Promise<[boolean, string]> {
    const o = { name: this.name, isLeader: this.isLeader(), force, fromLeader };
    return reinitializeNow({ long: this.long, pg: this.deps.pg }, await this.dcs.getCluster(), o);
  }

  async failoverPossible(cluster: Cluster, candidate: string | null): Promise<{ ok: boolean; reason: string }> {
    const [peers, pg] = await Promise.all([fetchPeerStatuses(this.deps.http, this.name, cluster, null), this.deps.pg.facts()]);
    const settings = { ...this.haSettings(), sync: undefined }; // the API checked /sync as Patroni's does (a failover may go to an async node)
    const input: HaInput = { name: this.name, tags: this.tags, cluster, oldCluster: this.oldCluster, pg, peers, settings, memory: this.pendingMemory(), now: this.clock.now(), monotonic: this.clock.monotonic() };
    return isFailoverPossible(input, cluster, candidate);
  }
}
