/**
 * Restarts requested through the REST API, now or scheduled (Patroni's Ha.restart and
 * evaluate_scheduled_restart).
 *
 * Patroni's restart_matches: the filters of `POST /restart` (and of a scheduled restart) that must
 * all hold, or the restart is refused with "restart conditions are not satisfied".
 *  - role: the node's role now (`master` means primary);
 *  - postgres_version: restart only while the running server is OLDER than that version (a restart
 *    to pick up upgraded binaries);
 *  - restart_pending: only when PostgreSQL reports a parameter change waiting for a restart.
 */
import type { NodeStatus, RestartRequest } from '../api/backend.js';
import { postgresVersionToInt } from '../api/parsing.js';
import type { Logger } from '../log.js';
import type { LongActionRunner } from './long-action.js';
import type { PostgresPort } from './postgres-port.js';

export function restartMismatch(req: RestartRequest, status: Pick<NodeStatus, 'role' | 'serverVersion' | 'pendingRestart'> | null): string | null {
  const role = status?.role ?? null;
  if (req.role && !(req.role === role || (req.role === 'master' && role === 'primary'))) return 'host role mismatch';
  if (req.postgresVersion) {
    let wanted: number;
    try {
      wanted = postgresVersionToInt(req.postgresVersion);
    } catch {
      return 'postgres version mismatch';
    }
    if (status?.serverVersion === null || status?.serverVersion === undefined || wanted <= status.serverVersion) return 'postgres version mismatch';
  }
  if (req.restartPending && !status?.pendingRestart) return 'pending restart flag is not set';
  return null;
}

export interface RestartContext {
  readonly long: LongActionRunner;
  readonly pg: PostgresPort;
  readonly logger: Logger;
  readonly primaryStartTimeout: number;
  /**
   * As Patroni: a restart that does not bring PostgreSQL back counts as a failed start (a leader gives
   * its key up rather than retrying), and `timeout` is this start's primary_start_timeout.
   */
  markStarting(timeout: number): void;
}

/** `POST /restart` without a schedule: [ok, message] as Patroni answers. */
export async function restartNow(ctx: RestartContext, req: RestartRequest, status: NodeStatus | null): Promise<[boolean, string]> {
  const mismatch = restartMismatch(req, status);
  if (mismatch) {
    ctx.logger.info(`not proceeding with the restart: ${mismatch}`);
    return [false, 'restart conditions are not satisfied'];
  }
  if (ctx.long.running) return [false, `${ctx.long.running.label} already in progress`];
  const timeout = req.timeout ?? ctx.primaryStartTimeout;
  ctx.markStarting(timeout);
  const done = new Promise<boolean | Error>((resolve) => { ctx.long.run('restart', 'restart', (s) => ctx.pg.restart(s), resolve); });
  const result = timeout > 0 ? await Promise.race([done, new Promise<'timeout'>((r) => setTimeout(r, timeout * 1000, 'timeout').unref())]) : await done;
  if (result === 'timeout') return [false, 'postgres is still starting'];
  return result === true ? [true, 'restarted successfully'] : [false, 'restart failed'];
}

/** The stored `scheduled_restart` as the member key carries it. */
export function scheduledRestartData(req: RestartRequest): Record<string, unknown> {
  return {
    schedule: req.schedule ? req.schedule.date.toISOString() : null, ...(req.role ? { role: req.role } : {}),
    ...(req.postgresVersion ? { postgres_version: req.postgresVersion } : {}), ...(req.timeout ? { timeout: req.timeout } : {}),
    ...(req.restartPending ? { restart_pending: true } : {}),
  };
}

/** A due scheduled restart: started unless its filters no longer match (then dropped with a warning). */
export function runScheduledRestart(ctx: RestartContext, sched: Record<string, unknown>, status: Pick<NodeStatus, 'role' | 'serverVersion' | 'pendingRestart'> | null): void {
  const mismatch = restartMismatch({
    role: typeof sched.role === 'string' ? sched.role : null, postgresVersion: typeof sched.postgres_version === 'string' ? sched.postgres_version : null,
    restartPending: sched.restart_pending === true,
  }, status);
  if (mismatch) {
    ctx.logger.warn(`Scheduled restart: restart conditions are not satisfied (${mismatch})`);
    return;
  }
  ctx.logger.info('running the scheduled restart');
  ctx.markStarting(typeof sched.timeout === 'number' ? sched.timeout : ctx.primaryStartTimeout);
  ctx.long.run('restart', 'scheduled restart', (s) => ctx.pg.restart(s), () => {});
}
