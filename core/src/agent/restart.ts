/**
 * Restarts requested through the REST API, now or scheduled (Patroni's Ha.restart): the filters
 * (core/src/ha/restart-filters.ts) are checked first; a restart is then judged like a start whose
 * primary_start_timeout is the request's `timeout` (a leader that does not come back gives its key
 * up rather than retrying), reported to the decision as a `start_deadline` event. Also
 * POST /reinitialize (Patroni's Ha.reinitialize).
 */
import type { NodeStatus, RestartRequest } from '../api/backend.js';
import { restartMismatch } from '../ha/restart-filters.js';
import type { HaEvent, ScheduledRestart } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { reinitialize } from './executor.js';
import type { LongActionRunner } from './long-action.js';
import type { FollowTarget, PostgresPort } from './postgres-port.js';

export { restartMismatch };

export interface RestartContext {
  readonly long: LongActionRunner;
  readonly pg: PostgresPort;
  readonly logger: Logger;
  readonly primaryStartTimeout: number;
  readonly report: (e: HaEvent) => void;
  readonly monotonic: () => number;
}

function begin(ctx: RestartContext, label: string, timeout: number): Promise<boolean | Error> | null {
  if (ctx.long.running) return null;
  ctx.report({ type: 'start_deadline', since: ctx.monotonic(), seconds: timeout });
  return ctx.long.run('restart', label, (s) => ctx.pg.restart(s));
}

/** `POST /restart` without a schedule: [ok, message] as Patroni answers. */
export async function restartNow(ctx: RestartContext, req: RestartRequest, status: NodeStatus | null): Promise<[boolean, string]> {
  const mismatch = restartMismatch(req, status && { role: status.role, serverVersion: status.serverVersion, pendingRestart: status.pendingRestart });
  if (mismatch) {
    ctx.logger.info(`not proceeding with the restart: ${mismatch}`);
    return [false, 'restart conditions are not satisfied'];
  }
  if (ctx.long.running) return [false, `${ctx.long.running.label} already in progress`];
  const timeout = req.timeout ?? ctx.primaryStartTimeout;
  const done = begin(ctx, 'restart', timeout);
  if (!done) return [false, 'another action is already in progress'];
  const result = timeout > 0 ? await Promise.race([done, new Promise<'timeout'>((r) => setTimeout(r, timeout * 1000, 'timeout').unref())]) : await done;
  if (result === 'timeout') return [false, 'postgres is still starting'];
  return result === true ? [true, 'restarted successfully'] : [false, 'restart failed'];
}

/** The due scheduled restart (its filters were checked by the decision). */
export function restartScheduled(ctx: RestartContext, sched: Record<string, unknown> | null): void {
  void begin(ctx, 'scheduled restart', typeof sched?.timeout === 'number' ? sched.timeout : ctx.primaryStartTimeout);
}

/** The stored `scheduled_restart` as the member key carries it. */
export function scheduledRestartData(req: RestartRequest): Record<string, unknown> {
  return {
    schedule: req.schedule ? req.schedule.date.toISOString() : null, ...(req.role ? { role: req.role } : {}),
    ...(req.postgresVersion ? { postgres_version: req.postgresVersion } : {}), ...(req.timeout ? { timeout: req.timeout } : {}),
    ...(req.restartPending ? { restart_pending: true } : {}),
  };
}

/** The scheduled restart as the decision sees it (a timer: due when `at` has passed), with its filters. */
export function scheduledDue(sched: Record<string, unknown> | null, status: Pick<NodeStatus, 'pendingRestart'> | null): ScheduledRestart | null {
  const at = typeof sched?.schedule === 'string' ? Date.parse(sched.schedule) : NaN;
  if (!sched || Number.isNaN(at)) return null;
  return {
    at, role: typeof sched.role === 'string' ? sched.role : null, postgresVersion: typeof sched.postgres_version === 'string' ? sched.postgres_version : null,
    restartPending: sched.restart_pending === true, pendingNow: status?.pendingRestart === true,
  };
}

/**
 * POST /reinitialize on a fresh read of the DCS, in Patroni's order: no leader first, then "I am the
 * leader" (the lock is ours, whatever the cached view said). `force` cancels a running long action.
 * The same path as the plan's reinitialize; its end comes back as an event for the next decision.
 */
export async function reinitializeNow(ctx: Pick<RestartContext, 'long' | 'pg'>, cluster: Cluster, o: { name: string; isLeader: boolean; force: boolean; fromLeader: boolean }): Promise<[boolean, string]> {
  if (!cluster.leader) return [false, 'Cluster has no leader, can not reinitialize'];
  if (cluster.leaderName === o.name || o.isLeader) return [false, 'I am the leader, can not reinitialize'];
  if (ctx.long.running) {
    if (!o.force) return [false, `${ctx.long.running.label} already in progress`];
    ctx.long.cancel();
    await ctx.long.wait();
  }
  const source: FollowTarget = o.fromLeader ? cluster.leader : cluster.getCloneMember(o.name);
  const started = reinitialize(ctx, source);
  return started ? [true, 'reinitialize started'] : [false, 'reinitialize already in progress'];
}

