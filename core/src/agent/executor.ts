/**
 * Carries out a Plan: the IO side of the HA cycle. Each action is a thin call into the DCS facade,
 * the PostgreSQL port or the fence; long ones go to the LongActionRunner. Nothing here decides or
 * remembers: what happened is reported as events (`report`), which the next `decide` folds into
 * memory. Returns the message that stands.
 */
import type { Dcs } from '../dcs/facade.js';
import { DcsError, FatalError } from '../errors.js';
import type { Action, DemoteMode, HaEvent, Plan } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { compactJson } from '../util/json.js';
import type { HttpClient } from '../di.js';
import { handover } from './handover.js';
import type { LongActionRunner } from './long-action.js';
import type { SyncRunner } from './sync-runner.js';
import type { FollowTarget, PostgresPort } from './postgres-port.js';

export interface ExecutorContext {
  readonly name: string;
  readonly dcs: Dcs;
  readonly pg: PostgresPort;
  readonly logger: Logger;
  readonly http: HttpClient;
  readonly long: LongActionRunner;
  readonly cluster: Cluster | null;
  /** The dynamic configuration to publish in `/config` (bootstrap.dcs, or the effective one). */
  readonly dynamicConfig: () => Record<string, unknown>;
  readonly monotonic: () => number;
  readonly wall: () => number;
  /** Report an outcome; the next decision folds it into memory. */
  readonly report: (e: HaEvent) => void;
  /** Lease bookkeeping: when the renewal keeping the lock alive was SENT (dcs.leaderLeaseSentAt). */
  lockSentAt: (t: number | null) => void | Promise<void>;
  /** Wake the HA loop (after a long action, or when the next cycle should run at once). */
  wakeup: () => void;
  /** Synchronous replication on the leader (absent in tests that do not need it). */
  readonly sync?: SyncRunner;
  /** The fence guarding this node while it is primary. */
  readonly guard?: { standDown(): Promise<void> };
  /** Forget the scheduled restart (it ran or was dropped). */
  readonly clearScheduledRestart?: () => void;
  /** Optional hooks (fence, callbacks). */
  readonly onRoleChange?: (role: 'primary' | 'replica' | 'demoted') => void;
}

function target(cluster: Cluster | null, name: string | null): FollowTarget {
  if (!name || !cluster) return null;
  return cluster.getMember(name, true);
}

/** Run a plan; on a lost race/refresh switch to its fallback. */
export async function executePlan(ctx: ExecutorContext, plan: Plan): Promise<string> {
  for (const action of plan.actions) {
    const ok = await executeAction(ctx, action);
    if (ok === false && plan.onFail) return executePlan(ctx, plan.onFail);
  }
  return plan.message;
}

async function executeAction(ctx: ExecutorContext, a: Action): Promise<boolean | void> {
  const { dcs, pg, long, cluster } = ctx;
  switch (a.type) {
    case 'race_initialize':
      return dcs.initialize(true, '');
    case 'bootstrap':
      long.run('bootstrap', 'bootstrap', (s) => pg.bootstrap(s));
      return;
    case 'post_bootstrap':
      long.run('post_bootstrap', 'post-bootstrap', (s) => pg.postBootstrap(s));
      return;
    case 'finish_bootstrap': {
      const facts = await pg.facts();
      await dcs.initialize(cluster?.initialize === null, facts.sysid ?? '');
      await dcs.setConfigValue(compactJson(ctx.dynamicConfig()));
      const sent = ctx.monotonic();
      const ok = await dcs.takeLeader();
      if (ok) await ctx.lockSentAt(dcs.leaderLeaseSentAt(sent));
      ctx.report({ type: 'lock', op: 'acquire', ok });
      ctx.report({ type: 'bootstrap_finished' });
      ctx.onRoleChange?.('primary');
      return;
    }
    case 'cancel_initialization': {
      await dcs.cancelInitialization().catch((e: unknown) => ctx.logger.error(`failed to delete the initialize key: ${String(e)}`));
      await pg.stop('immediate').catch(() => false);
      await pg.moveDataDirAside();
      throw new FatalError('removed initialize key after failed attempt to bootstrap the cluster');
    }
    case 'clone': {
      const source = target(cluster, a.source);
      const label = a.source ? `bootstrap from ${a.source === cluster?.leaderName ? 'leader' : 'replica'} '${a.source}'` : 'bootstrap (without leader)';
      void long.run('clone', label, (s) => pg.createReplica(source, s))?.then((r) => {
        if (r !== true) ctx.logger.error(`${label} failed; the data directory was removed and the next cycle retries`);
      });
      return;
    }
    case 'write_initialize':
      return dcs.initialize(a.createNew, a.sysid);
    case 'write_config':
      return dcs.setConfigValue(compactJson(ctx.dynamicConfig()));
    case 'acquire_lock': {
      const sent = ctx.monotonic();
      const ok = await dcs.attemptToAcquireLeader();
      if (ok) await ctx.lockSentAt(dcs.leaderLeaseSentAt(sent));
      ctx.report({ type: 'lock', op: 'acquire', ok });
      return ok;
    }
    case 'update_lock': {
      const sent = ctx.monotonic();
      let ok = false;
      try {
        ok = cluster?.leader ? await dcs.updateLeader(cluster.leader, await pg.lastLsn().catch(() => null)) : false;
      } catch (e) {
        // The store did not confirm the refresh: the lock may be gone, so take the plan's fallback
        // (Patroni's demotion), exactly as for a lost lock, instead of carrying on as primary.
        if (!(e instanceof DcsError)) throw e;
        ctx.logger.error(`failed to update leader lock: ${e.message}`);
      }
      await ctx.lockSentAt(ok ? dcs.leaderLeaseSentAt(sent) : null);
      ctx.report({ type: 'lock', op: 'update', ok });
      return ok;
    }
    case 'release_lock': {
      const lsn = await pg.lastLsn().catch(() => null);
      await ctx.lockSentAt(null);
      const ok = await dcs.deleteLeader(cluster?.leader ?? null, lsn);
      ctx.report({ type: 'lock', op: 'release', ok });
      return ok;
    }
    case 'clear_failover':
      return dcs.manualFailover('', '', null, cluster?.failover?.version ?? null);
    case 'sync_replication':
      if (ctx.sync && cluster) await ctx.sync.process(cluster, a.sync);
      return;
    case 'promote':
      if (a.sync && ctx.sync && cluster && !(await ctx.sync.prepromote(cluster, a.sync))) {
        ctx.logger.info('Postponing promotion because synchronous replication state was updated by somebody else');
        return;
      }
      void long.run('promote', 'promote', (s) => pg.promote(s))?.then((r) => {
        if (r === true) ctx.onRoleChange?.('primary');
      });
      return;
    case 'demote':
      return demote(ctx, a.mode);
    case 'start': {
      const label = a.role === 'primary' ? 'starting primary after failure' : 'starting';
      const leader = target(cluster, a.leader);
      void long.run('start', label, (s) => pg.start(a.role, leader, s), a.role)?.then((r) => {
        if (r === true && a.role === 'replica') ctx.onRoleChange?.('replica');
      });
      return;
    }
    case 'follow': {
      const result = await pg.follow(target(cluster, a.leader));
      if (result === 'restart_needed') long.run('restart', 'changing primary_conninfo and restarting', (s) => pg.restart(s));
      else if (result === 'reloaded') ctx.logger.info(`following ${a.leader ?? 'nobody'}: recovery settings reloaded`);
      return;
    }
    case 'refresh':
      ctx.wakeup();
      return;
    case 'check_rewind': {
      let result: Awaited<ReturnType<PostgresPort['checkDiverged']>>;
      try {
        result = await pg.checkDiverged(target(cluster, a.leader));
      } catch (e) {
        ctx.logger.warn(`cannot check whether my timeline diverged from ${a.leader}: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      ctx.report({ type: 'divergence', leader: a.leader, result, ...(a.checkedFor ? { checkedFor: a.checkedFor } : {}) });
      if (result !== 'not_needed') ctx.logger.warn(`the timeline of ${ctx.name} diverged from ${a.leader}: ${result.replace('_', ' ')}`);
      ctx.wakeup();
      return;
    }
    case 'rewind': {
      const leader = target(cluster, a.leader);
      // pg_rewind needs a stopped target: a running diverged replica is stopped first.
      long.run('rewind', `running pg_rewind from ${a.leader}`, async (s) => (await pg.stop('fast')) && pg.rewind(leader, s));
      return;
    }
    case 'reinitialize':
      reinitialize(ctx, target(cluster, a.leader));
      return;
    case 'stop':
      await pg.stop('immediate');
      return;
    case 'cancel_long_action':
      long.cancel();
      return;
    case 'update_history':
      return updateHistory(ctx);
    case 'stand_down_fence':
      await ctx.guard?.standDown();
      return;
    case 'sync_slots':
      await pg.changeSlots(a.create, a.drop).catch((e: unknown) => ctx.logger.warn(`replication slots: ${String(e)}`));
      return;
    case 'scheduled_restart':
      ctx.clearScheduledRestart?.();
      if (a.skip) ctx.logger.warn(`scheduled restart skipped: ${a.skip}`);
      else {
        ctx.logger.info('running the scheduled restart');
        long.run('restart', 'scheduled restart', (s) => pg.restart(s));
      }
      return;
    case 'fatal':
      throw new FatalError(a.message);
  }
}

/** Re-create PGDATA from `source` (the plan's reinitialize and POST /reinitialize). Null when something runs. */
export function reinitialize(ctx: Pick<ExecutorContext, 'long' | 'pg'>, source: FollowTarget): Promise<unknown> | null {
  return ctx.long.run('reinitialize', 'reinitialize', async (s) => {
    await ctx.pg.stop('immediate');
    // No wipe here (Patroni's _do_reinitialize neither): the replica chain wipes before each method
    // unless it keeps data (pgBackRest --delta reuses the files that match).
    return ctx.pg.createReplica(source, s);
  });
}

async function demote(ctx: ExecutorContext, mode: DemoteMode): Promise<void> {
  const { pg, dcs, cluster } = ctx;
  ctx.report({ type: 'demoted', mode });
  ctx.onRoleChange?.('demoted');
  if (mode === 'graceful' && cluster) {
    // Switchover: fast shutdown after a checkpoint; the key goes as soon as the candidate has the
    // shutdown checkpoint, so it takes over without waiting for the rest of the shutdown.
    const h = handover({
      name: ctx.name, dcs, http: ctx.http, logger: ctx.logger, cluster, candidate: cluster.failover?.candidate ?? null,
      onRelease: () => {
        ctx.report({ type: 'leader_released' });
        void ctx.lockSentAt(null);
      },
    });
    ctx.long.run('demote', 'demote', async () => {
      await pg.stop('fast', { checkpoint: true, onShutdown: (lsn) => h.onShutdown(lsn), blockCallbacks: true });
      await h.finish(await pg.lastLsn().catch(() => null));
      return true;
    });
    return;
  }
  if (mode !== 'offline') await ctx.lockSentAt(null);
  await pg.demote(mode);
  if (mode === 'immediate') {
    const ok = await dcs.deleteLeader(cluster?.leader ?? null, null).catch(() => false);
    ctx.report({ type: 'lock', op: 'release', ok });
  }
  ctx.wakeup();
}

async function updateHistory(ctx: ExecutorContext): Promise<void> {
  const { cluster, pg, dcs } = ctx;
  const history = await pg.timelineHistory();
  const facts = await pg.facts();
  if ((facts.timeline ?? 1) === 1) {
    if (cluster?.history?.lines.length) await dcs.setHistoryValue('[]');
    return;
  }
  const known = new Map((cluster?.history?.lines ?? []).map((l) => [Number(l[0]), l]));
  const maxHistory = Number((cluster?.config?.data.max_timelines_history as number | undefined) ?? 0);
  const lines = (maxHistory > 0 ? history.slice(-maxHistory) : history).map((line) => {
    const out: unknown[] = [...line];
    const prev = known.get(line[0]);
    if (prev && prev.length >= 4) out.push(...prev.slice(3, 5));
    else out.push(new Date(ctx.wall()).toISOString().replace('Z', '+00:00'), ctx.name);
    return out;
  });
  await dcs.setHistoryValue(compactJson(lines));
}
