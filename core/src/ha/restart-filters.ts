/**
 * Patroni's restart_matches: the filters of `POST /restart` (and of a scheduled restart) that must
 * all hold, or the restart is refused with "restart conditions are not satisfied".
 *  - role: the node's role now (`master` means primary);
 *  - postgres_version: restart only while the running server is OLDER than that version (a restart
 *    to pick up upgraded binaries);
 *  - restart_pending: only when PostgreSQL reports a parameter change waiting for a restart.
 * Returns why not, or null when the restart may run.
 */
import { postgresVersionToInt } from '../api/parsing.js';

export interface RestartFilters {
  readonly role?: string | null;
  readonly postgresVersion?: string | null;
  readonly restartPending?: boolean;
}

export interface RestartSubject {
  readonly role: string | null;
  readonly serverVersion: number | null;
  readonly pendingRestart: boolean;
}

export function restartMismatch(req: RestartFilters, now: RestartSubject | null): string | null {
  const role = now?.role ?? null;
  if (req.role && !(req.role === role || (req.role === 'master' && role === 'primary'))) return 'host role mismatch';
  if (req.postgresVersion) {
    let wanted: number;
    try {
      wanted = postgresVersionToInt(req.postgresVersion);
    } catch {
      return 'postgres version mismatch';
    }
    if (now?.serverVersion === null || now?.serverVersion === undefined || wanted <= now.serverVersion) return 'postgres version mismatch';
  }
  if (req.restartPending && !now?.pendingRestart) return 'pending restart flag is not set';
  return null;
}
