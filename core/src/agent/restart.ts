/**
 * Restarts requested through the REST API, now or scheduled (Patroni's Ha.restart): the filters
 * (core/src/ha/restart-filters.ts) are checked first; a restart is then judged like a start whose
 * primary_start_timeout is the request's `timeout` (a leader that does not come back gives its key
 * up rather than retrying), reported to the decision as a `start_deadline` event.
 */
import type { NodeStatus, RestartRequest } from '../api/backend.js';
import { restartMismatch } from '../ha/restart-filters.js';
import type { HaEvent, ScheduledRestart } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { LongActionRunner } from './long-action.js';
import type { PostgresPort } from './postgres-port.js';

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
