/**
 * Carries out a Plan: the IO side of the HA cycle. Each action is a thin call into the DCS facade,
 * the PostgreSQL port or the fence; long ones go to the LongActionRunner. Nothing here decides or
 * remembers: what happened is reported as events (`report`), which the next `decide` folds into
 * memory. Returns the message that stands.
 */
import type { Dcs } from '../dcs/facade.js';
import { DcsError, FatalError } from '../errors.js';
import type { Action, HaEvent, Plan } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { compactJson } from '../util/json.js';
import type { HttpClient } from '../di.js';
import { stopHandingOver, type HandoverOptions } from './handover.js';
import type { SlotKeeper } from '../slots/keeper.js';
import { syncSlots } from '../slots/action.js';
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
  /** Run the due scheduled restart (its timeout is that start's primary_start_timeout). */
  readonly restartScheduled?: () => void;
  /** Waiting inside actions (the handover's polls); a simulation passes its clock's. */
  readonly sleep?: HandoverOptions['sleep'];
  /** Optional hooks (fence, callbacks). */
  readonly onRoleChange?: (role: 'primary' | 'replica' | 'demoted') => void;
  /** Replication slot maintenance (absent: slots are not managed). */
  readonly slots?: SlotKeeper;
  /** The standby_cluster source as a RemoteMember (null: not a standby cluster). */
  readonly remoteSource?: () => FollowTarget;
  /** create_replica_methods of the standby_cluster section (undefined: the local ones). */
  readonly remoteReplicaMethods?: () => readonly string[] | undefined;
  /** The `/failsafe` value to publish with each lock refresh (null: failsafe mode is off). */
  readonly failsafeTopology?: () => Record<string, string> | null;
  /** DCS lost: ask every `/failsafe` member to confirm this primary; true only when all did. */
  readonly confirmFailsafe?: () => Promise<boolean>;
  /** The plan took its onDcsError branch: this cycle has no DCS (Patroni then skips touch_member). */
  readonly onDcsLost?: () => void;
}

/** An action whose DcsError the plan handles itself (Plan.onDcsError). */
class HandledDcsError extends Error {
  constructor(readonly dcsError: DcsError) { super(dcsError.message); }
}

/** The member to stream from or rewind from: `remote` is the standby_cluster source. */
function resolve(ctx: ExecutorContext, name: string | null, remote = false): FollowTarget {
  if (remote) return ctx.remoteSource?.() ?? null;
  return target(ctx.cluster, name);
}

function target(cluster: Cluster | null, name: string | null): FollowTarget {
  if (!name || !cluster) return null;
  return cluster.getMember(name, true);
}

/** Run a plan; on a lost race/refresh switch to its fallback. */
export async function executePlan(ctx: ExecutorContext, plan: Plan): Promise<string> {
  for (const action of plan.actions) {
    let ok: boolean | void;
    try {
      ok = await executeAction(ctx, action, !!plan.onDcsError);
    } catch (e) {
      if (!(e instanceof HandledDcsError) || !plan.onDcsError) throw e instanceof HandledDcsError ? e.dcsError : e;
      ctx.logger.error(`Error communicating with DCS: ${e.message}`);
      ctx.onDcsLost?.();
      return executePlan(ctx, plan.onDcsError);
    }
    if (ok === false && plan.onFail) return executePlan(ctx, plan.onFail);
  }
  return plan.message;
}

async function executeAction(ctx: ExecutorContext, a: Action, dcsErrorHandled = false): Promise<boolean | void> {
  const { dcs, pg, long, cluster } = ctx;
  switch (a.type) {
    case 'race_initialize':
      try {
        return await dcs.initialize(true, '');
      } catch (e) {
        // The create may have committed with its answer lost: only this node can know to look again.
        if (e instanceof DcsError) ctx.report({ type: 'race_unanswered' });
        throw e;
      }
    case 'bootstrap':
      void long.run('bootstrap', 'bootstrap', (s) => pg.bootstrap(s))?.then((r) => r !== true && ctx.logger.error(`bootstrap failed: ${pg.lastError ?? String(r)}`));
      return;
    case 'post_bootstrap':
      void long.run('post_bootstrap', 'post-bootstrap', (s) => pg.postBootstrap(s))?.then((r) => r !== true && ctx.logger.error(`post_bootstrap failed: ${pg.lastError ?? String(r)}`));
      return;
    case 'finish_bootstrap': {
      // The leader key before the cluster's identity and configuration, and by compare-and-create
      // (Patroni writes /initialize and /config, then takes the key unconditionally): a bootstrap
      // whose race key another node cleared (decide's abandonedRace, while this agent was frozen
      // past its member key's ttl) must not take over, or stamp its system ID on, the cluster that
      // node bootstrapped since.
      const sent = ctx.monotonic();
      if (!(await dcs.attemptToAcquireLeader())) {
        const now = await dcs.getCluster();
        if (!now.leaderName) {
          ctx.logger.warn('the leader key was neither taken nor held after bootstrap: publishing the cluster again next cycle');
          return;
        }
        // A leader other than me: this bootstrap lost (the plan's onFail abandons it). Mine: an
        // earlier attempt whose answer was lost.
        if (now.leaderName !== ctx.name) return false;
      }
      await ctx.lockSentAt(dcs.leaderLeaseSentAt(sent));
      ctx.report({ type: 'lock', op: 'acquire', ok: true });
      const facts = await pg.facts();
      await dcs.initialize(cluster?.initialize === null, facts.sysid ?? '');
      await dcs.setConfigValue(compactJson(ctx.dynamicConfig()));
      ctx.report({ type: 'bootstrap_finished' });
      if (!a.standby) ctx.onRoleChange?.('primary');
      // This cycle's view predates /config and /leader: run the next one now, so the members that
      // wait to stream get their slots without a loop_wait's delay (their walreceiver retries only
      // every wal_retrieve_retry_interval, 5 s, after finding no slot).
      ctx.wakeup();
      return;
    }
    case 'bootstrap_standby_leader': {
      // Patroni's bootstrap_standby_leader: clone the remote source and start following it; no post_bootstrap.
      const remote = resolve(ctx, null, true);
      if (!remote) throw new FatalError('standby_cluster has neither host/port nor restore_command: cannot bootstrap a standby leader');
      long.run('bootstrap', `clone from remote member ${remote.connUrl ?? remote.name}`,
        async (s) => (await pg.createReplica(remote, s, ctx.remoteReplicaMethods?.())) && pg.start('standby_leader', remote, s));
      return;
    }
    case 'failsafe_confirm':
      return ctx.confirmFailsafe ? ctx.confirmFailsafe() : false;
    case 'clear_initialize':
      await dcs.cancelInitialization();
      return;
    case 'abandon_bootstrap':
      return bootstrapLost(ctx);
    case 'cancel_initialization': {
      await dcs.cancelInitialization().catch((e: unknown) => ctx.logger.error(`failed to delete the initialize key: ${String(e)}`));
      await pg.stop('immediate').catch(() => false);
      const movedTo = await pg.moveDataDirAside();
      if (movedTo) ctx.logger.error(`the failed data directory was moved to ${movedTo}`);
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
        const lsn = cluster?.leader ? await pg.lastLsn().catch(() => null) : null;
        ok = cluster?.leader ? await dcs.updateLeader(cluster.leader, lsn, lsn ? await pg.replicationSlotLsns?.().catch(() => null) : null, ctx.failsafeTopology?.() ?? null) : false;
      } catch (e) {
        // The store did not confirm the refresh: the lock may be gone, so take the plan's fallback
        // (Patroni's demotion), exactly as for a lost lock, instead of carrying on as primary --
        // unless the plan says what to do without the DCS (failsafe: ask the peers).
        if (!(e instanceof DcsError)) throw e;
        if (dcsErrorHandled) {
          await ctx.lockSentAt(null);
          ctx.report({ type: 'lock', op: 'update', ok: false });
          throw new HandledDcsError(e);
        }
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
        if (r === true) {
          ctx.slots?.onPromote();
          ctx.onRoleChange?.('primary');
        }
      });
      return;
    case 'demote':
      return demote(ctx, a);
    case 'start': {
      const label = a.role === 'primary' ? 'starting primary after failure' : 'starting';
      const leader = resolve(ctx, a.leader, a.remote);
      void long.run('start', label, (s) => pg.start(a.role, leader, s), a.role)?.then((r) => {
        if (r === true && a.role !== 'primary') ctx.onRoleChange?.('replica');
      });
      return;
    }
    case 'follow': {
      const result = await pg.follow(resolve(ctx, a.leader, a.remote));
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
        result = await pg.checkDiverged(resolve(ctx, a.leader, a.remote));
      } catch (e) {
        ctx.logger.warn(`cannot check whether my timeline diverged from ${a.leader}: ${e instanceof Error ? e.message : String(e)}`);
        if (a.checkedFor) ctx.report({ type: 'divergence', leader: a.leader, result: 'unknown', checkedFor: a.checkedFor, at: ctx.monotonic() });
        return;
      }
      ctx.report({ type: 'divergence', leader: a.leader, result, ...(a.checkedFor ? { checkedFor: a.checkedFor } : {}) });
      if (result !== 'not_needed') ctx.logger.warn(`the timeline of ${ctx.name} diverged from ${a.leader}: ${result.replace('_', ' ')}`);
      ctx.wakeup();
      return;
    }
    case 'rewind': {
      const leader = resolve(ctx, a.leader, a.remote);
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
      return syncSlots(ctx, a);
    case 'scheduled_restart':
      ctx.clearScheduledRestart?.();
      if (a.skip) ctx.logger.warn(`Scheduled restart: restart conditions are not satisfied (${a.skip})`);
      else {
        ctx.logger.info('running the scheduled restart');
        ctx.restartScheduled?.();
      }
      return;
    case 'fatal':
      throw new FatalError(a.message);
  }
}

/**
 * Another node leads a cluster this node's finished bootstrap was racing for: stop the new server and
 * keep its data directory aside (nothing is deleted); with PGDATA empty the next cycle clones the leader.
 */
async function bootstrapLost(ctx: ExecutorContext): Promise<void> {
  ctx.logger.error('another node leads the cluster this node had bootstrapped for: stopping PostgreSQL to join it as a replica');
  await ctx.pg.stop('immediate').catch(() => false);
  const movedTo = await ctx.pg.moveDataDirAside();
  if (movedTo) ctx.logger.error(`the data directory of the bootstrap that lost was moved to ${movedTo}`);
  ctx.report({ type: 'bootstrap_lost' });
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

async function demote(ctx: ExecutorContext, { mode, stopTimeout, syncOnly }: Extract<Action, { type: 'demote' }>): Promise<void> {
  const { pg, dcs, cluster } = ctx;
  const stopTimeoutMs = stopTimeout ? stopTimeout * 1000 : undefined;
  ctx.report({ type: 'demoted', mode });
  ctx.onRoleChange?.('demoted');
  if (mode === 'graceful' && cluster) {
    // Switchover: fast shutdown after a checkpoint; the key goes as soon as the candidate has the
    // shutdown checkpoint, so it takes over without waiting for the rest of the shutdown.
    const o: HandoverOptions = {
      name: ctx.name, dcs, http: ctx.http, logger: ctx.logger, cluster, candidate: cluster.failover?.candidate ?? null, syncOnly, sleep: ctx.sleep,
      onRelease: () => {
        ctx.report({ type: 'leader_released' });
        void ctx.lockSentAt(null);
      },
    };
    ctx.long.run('demote', 'demote', async () => {
      await stopHandingOver(pg, o, { blockCallbacks: true, stopTimeoutMs });
      return true;
    });
    return;
  }
  if (mode !== 'offline') await ctx.lockSentAt(null);
  await pg.demote(mode, stopTimeoutMs);
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
