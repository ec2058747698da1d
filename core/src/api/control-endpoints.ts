/** Local PostgreSQL control: POST `/reload`, POST/DELETE `/restart`, POST `/reinitialize` (reference §4.2, §2.12). */
import { parseBool } from '../util/json.js';
import type { RestartRequest } from './backend.js';
import { readJsonObject, textReply } from './http-util.js';
import { parseIntWithUnit, parseSchedule, postgresVersionToInt } from './parsing.js';
import { globalView } from './status.js';
import type { ApiContext, Reply } from './types.js';

export async function postReload(ctx: ApiContext): Promise<Reply> {
  // Like SIGHUP: the reload runs in the background; its problems are the agent's to log.
  ctx.backend.reloadConfig().catch((e: unknown) => ctx.logger.error({ err: e }, 'REST API: reload failed'));
  return textReply(202, 'reload scheduled');
}

const RESTART_ROLES = ['primary', 'standby_leader', 'replica'];

type Parsed = { ok: true; req: RestartRequest } | { ok: false; status: number; message: string };

/** Validate the restart filters in request order, stopping at the first bad one (as Patroni does). */
function parseRestartRequest(body: Record<string, unknown>, nowMs: number): Parsed {
  const req: { -readonly [K in keyof RestartRequest]: RestartRequest[K] } = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'schedule') {
      const s = parseSchedule(value, 'restart', nowMs);
      if (!s.ok) return { ok: false, status: s.status, message: s.error };
      req.schedule = s.at;
    } else if (key === 'role') {
      if (typeof value !== 'string' || !RESTART_ROLES.includes(value)) {
        return { ok: false, status: 400, message: 'PostgreSQL role should be either primary, standby_leader, or replica' };
      }
      req.role = value;
    } else if (key === 'postgres_version') {
      if (typeof value !== 'string') return { ok: false, status: 400, message: `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${JSON.stringify(value)}` };
      try {
        postgresVersionToInt(value);
      } catch (e) {
        return { ok: false, status: 400, message: (e as Error).message };
      }
      req.postgresVersion = value;
    } else if (key === 'timeout') {
      const t = parseIntWithUnit(value, 's');
      if (t === null || t <= 0) return { ok: false, status: 400, message: 'Timeout should be a positive number of seconds' };
      req.timeout = t;
    } else if (key === 'restart_pending') {
      req.restartPending = parseBool(value) ?? !!value;
    } else {
      return { ok: false, status: 400, message: `Unknown filter for the scheduled restart: ${key}` };
    }
  }
  return { ok: true, req };
}

export async function postRestart(ctx: ApiContext): Promise<Reply> {
  const body = await readJsonObject(ctx.req, { optional: true, maxBytes: ctx.options.maxBodyBytes });
  const { backend } = ctx;
  const cluster = await backend.dcs.getCluster();
  if (globalView(backend, cluster).paused && 'schedule' in body) {
    return textReply(500, "Can't schedule restart in the paused state");
  }
  const parsed = parseRestartRequest(body, ctx.options.clock.now());
  if (!parsed.ok) return textReply(parsed.status, parsed.message);
  if (parsed.req.schedule) {
    return backend.scheduleRestart(parsed.req)
      ? textReply(202, 'Restart scheduled')
      : textReply(409, 'Another restart is already scheduled');
  }
  try {
    const [ok, message] = await backend.restart(parsed.req);
    return textReply(ok ? 200 : 503, message);
  } catch (e) {
    ctx.logger.error({ err: e }, 'Exception during restart');
    return textReply(400, 'restart failed');
  }
}

export function deleteRestart(ctx: ApiContext): Reply {
  return ctx.backend.deleteScheduledRestart()
    ? textReply(200, 'scheduled restart deleted')
    : textReply(404, 'no restarts are scheduled');
}

export async function postReinitialize(ctx: ApiContext): Promise<Reply> {
  const body = await readJsonObject(ctx.req, { optional: true, maxBytes: ctx.options.maxBodyBytes });
  const force = parseBool(body.force) ?? false;
  const [ok, message] = await ctx.backend.reinitialize(force, parseBool(body.from_leader) ?? false);
  return ok ? textReply(200, 'reinitialize started') : textReply(503, message);
}

/** Patroni's Windows-only test hook; accepted and ignored elsewhere, as Patroni does. */
export function postSigterm(): Reply {
  return textReply(202, 'shutdown scheduled');
}
