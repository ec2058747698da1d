/**
 * Carries out a Plan: the IO side of the HA cycle. Each action is a thin call into the DCS facade
 * or the PostgreSQL port; long ones go to the LongActionRunner. Returns the message that stands.
 */
import type { Dcs } from '../dcs/facade.js';
import { DcsError, FatalError } from '../errors.js';
import type { Action, AgentMemory, Plan } from '../ha/types.js';
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
  /** Update the agent's memory (also from long actions finishing after this cycle). */
  readonly remember: (patch: Partial<AgentMemory>) => void;
  /** Lease bookkeeping: when the renewal keeping the lock alive was SENT (dcs.leaderLeaseSentAt). */
  lockSentAt: (t: number | null) => void | Promise<void>;
  /** Wake the HA loop (after a long action, or when the next cycle should run at once). */
  wakeup: () => void;
  /** Synchronous replication on the leader (absent in tests that do not need it). */
  readonly sync?: SyncRunner;
  /** Optional hooks (fence, callbacks). */
  readonly onRoleChange?: (role: 'primary' | 'replica' | 'demoted') => void;
}

function target(ctx: ExecutorContext, cluster: Cluster | null, name: string | null): FollowTarget {
  if (!name || !cluster) return null;
  return cluster.getMember(name, true);
}

/** Run a plan; on a lost race/refresh switch to its fallback. */
export async function executePlan(ctx: ExecutorContext, plan: Plan): Promise<string> {
  for (const action of plan.actions) {
    const ok = await executeAction(ctx, action);
    if (ok === false && plan.onFail) return executePlan(ctx, plan.onFail);
  }
  if (plan.remember) ctx.remember(plan.remember);
  return plan.message;
}

async function executeAction(ctx: ExecutorContext, a: Action): Promise<boolean | void> {
  const { dcs, pg, long, cluster } = ctx;
  switch (a.type) {
    case 'race_initialize':
      return dcs.initialize(true, '');
    case 'bootstrap':
      ctx.remember({ bootstrap: 'running' });
      long.run('bootstrap', 'bootstrap', (s) => pg.bootstrap(s), (r) => ctx.remember({ bootstrap: r === true ? 'started' : 'failed' }));
      return;
    case 'post_bootstrap':
      long.run('post_bootstrap', 'post-bootstrap', (s) => pg.postBootstrap(s), (r) => ctx.remember({ bootstrap: r === true ? 'post_done' : 'failed' }));
      return;
    case 'finish_bootstrap': {
      const facts = await pg.facts();
      await dcs.initialize(cluster?.initialize === null, facts.sysid ?? '');
      await dcs.setConfigValue(compactJson(ctx.dynamicConfig()));
      const sent = ctx.monotonic();
      if (await dcs.takeLeader()) await ctx.lockSentAt(dcs.leaderLeaseSentAt(sent));
      ctx.remember({ bootstrap: 'none' });
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
      const source = target(ctx, cluster, a.source);
      const label = a.source ? `bootstrap from ${a.source === cluster?.leaderName ? 'leader' : 'replica'} '${a.source}'` : 'bootstrap (without leader)';
      long.run('clone', label, (s) => pg.createReplica(source, s), (r) => {
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
      return ok;
    }
    case 'release_lock': {
      const lsn = await pg.lastLsn().catch(() => null);
      ctx.lockSentAt(null);
      return dcs.deleteLeader(cluster?.leader ?? null, lsn);
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
      long.run('promote', 'promote', (s) => pg.promote(s), (r) => {
        if (r === true) {
          ctx.remember({ demoted: false, rewind: 'unknown' });
          ctx.onRoleChange?.('primary');
        }
      });
      return;
    case 'demote':
      return demote(ctx, a.mode);
    case 'start':
      return start(ctx, a.role, target(ctx, cluster, a.leader));
    case 'follow':
      return follow(ctx, a.leader, !!a.reload);
    case 'check_rewind': {
      let result: Awaited<ReturnType<PostgresPort['checkDiverged']>>;
      try {
        result = await pg.checkDiverged(target(ctx, cluster, a.leader));
      } catch (e) {
        ctx.logger.warn(`cannot check whether my timeline diverged from ${a.leader}: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      ctx.remember({ rewind: result, ...(a.checkedFor ? { divergenceCheckedFor: a.checkedFor } : {}) });
      if (result !== 'not_needed') ctx.logger.warn(`the timeline of ${ctx.name} diverged from ${a.leader}: ${result.replace('_', ' ')}`);
      ctx.wakeup();
      return;
    }
    case 'rewind':
      // pg_rewind needs a stopped target: a running diverged replica is stopped first.
      long.run('rewind', `running pg_rewind from ${a.leader}`, async (s) => (await pg.stop('fast')) && pg.rewind(target(ctx, cluster, a.leader), s),
        (r) => ctx.remember({ rewind: r === true ? 'done' : 'failed' }));
      return;
    case 'reinitialize': {
      const source = target(ctx, cluster, a.leader);
      long.run('reinitialize', 'reinitialize', async (s) => {
        await pg.stop('immediate');
        // No wipe here (Patroni's _do_reinitialize neither): the replica chain wipes before each method
        // unless it keeps data (pgBackRest --delta reuses the files that match).
        return pg.createReplica(source, s);
      }, () => ctx.remember({ rewind: 'unknown', demoted: false }));
      return;
    }
    case 'crash_recovery':
      return;
    case 'stop':
      await pg.stop('immediate');
      return;
    case 'cancel_long_action':
      long.cancel();
      return;
    case 'update_history':
      return updateHistory(ctx);
    case 'wait':
      await new Promise((r) => setTimeout(r, a.seconds * 1000));
      return;
    case 'fatal':
      throw new FatalError(a.message);
  }
}

async function demote(ctx: ExecutorContext, mode: 'offline' | 'graceful' | 'immediate' | 'immediate-nolock'): Promise<void> {
  const { pg, dcs, cluster } = ctx;
  ctx.remember({ demoted: true, rewind: 'unknown' });
  ctx.onRoleChange?.('demoted');
  if (mode === 'graceful' && cluster) {
    // Switchover: fast shutdown after a checkpoint; the key goes as soon as the candidate has the
    // shutdown checkpoint, so it takes over without waiting for the rest of the shutdown.
    const h = handover({
      name: ctx.name, dcs, http: ctx.http, logger: ctx.logger, cluster, candidate: cluster.failover?.candidate ?? null,
      onRelease: () => {
        pg.markDemoted();
        void ctx.lockSentAt(null);
      },
    });
    ctx.long.run('demote', 'demote', async () => {
      await pg.stop('fast', { checkpoint: true, onShutdown: (lsn) => h.onShutdown(lsn), blockCallbacks: true });
      await h.finish(await pg.lastLsn().catch(() => null));
      return true;
    }, () => ctx.wakeup());
    return;
  }
  if (mode !== 'offline') ctx.lockSentAt(null);
  await pg.demote(mode);
  if (mode === 'immediate') await dcs.deleteLeader(cluster?.leader ?? null, null).catch(() => false);
  ctx.wakeup();
}

async function start(ctx: ExecutorContext, role: 'primary' | 'replica', leader: FollowTarget): Promise<void> {
  const label = role === 'primary' ? 'starting primary after failure' : 'starting';
  ctx.long.run('start', label, (s) => ctx.pg.start(role, leader, s), (r) => {
    if (r === true && role === 'replica') {
      ctx.remember({ demoted: false, rewind: 'unknown' });
      ctx.onRoleChange?.('replica');
    }
    ctx.remember({ startFailed: r !== true });
  });
}

async function follow(ctx: ExecutorContext, leaderName: string | null, reload: boolean): Promise<void> {
  let cluster = ctx.cluster;
  let name = leaderName;
  if (reload) {
    cluster = await ctx.dcs.getCluster();
    name = cluster.leaderName && cluster.leaderName !== ctx.name ? cluster.leaderName : null;
  }
  const result = await ctx.pg.follow(target(ctx, cluster, name));
  if (result === 'restart_needed') {
    ctx.long.run('restart', 'changing primary_conninfo and restarting', (s) => ctx.pg.restart(s), () => {});
  } else if (result === 'reloaded') {
    ctx.logger.info(`following ${name ?? 'nobody'}: recovery settings reloaded`);
  }
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
