/** Which handler serves a request: Patroni routes on the method and the first path segment. */
import { deleteRestart, postReinitialize, postReload, postRestart, postSigterm } from './control-endpoints.js';
import { getCluster, getConfig, getFailsafe, getHistory, patchConfigEndpoint, postFailsafe, putConfig } from './config-endpoints.js';
import { getDashboard, postDashboardAction } from './dashboard.js';
import { deleteSwitchover, postFailover, postSwitchover } from './failover-endpoints.js';
import { healthCheck, liveness, readiness } from './health.js';
import { jsonReply, textReply } from './http-util.js';
import { renderMetrics } from './metrics.js';
import { fetchNodeStatus, statusDocument } from './status.js';
import type { ApiContext, Handler } from './types.js';

async function getPatroni(ctx: ApiContext) {
  return jsonReply(200, statusDocument(ctx.backend, await fetchNodeStatus(ctx)));
}

async function getMetrics(ctx: ApiContext) {
  const doc = statusDocument(ctx.backend, await fetchNodeStatus(ctx));
  return { ...textReply(200, renderMetrics(ctx.backend, doc, ctx.options.clock.monotonic())), contentType: 'text/plain' };
}

/** GETs with their own handler; any other GET path is a health check. */
export const GET_ROUTES: Readonly<Record<string, Handler>> = {
  patroni: getPatroni,
  cluster: getCluster,
  history: getHistory,
  config: getConfig,
  metrics: getMetrics,
  failsafe: getFailsafe,
  liveness,
  readiness,
  dashboard: getDashboard,
};

export interface WriteRoute {
  readonly handler: Handler;
  /** Whether `allowlist_include_members` applies (Patroni skips it for POST /failsafe). */
  readonly checkMembers: boolean;
  /** Whether a 401 carries `WWW-Authenticate` (false for the dashboard, whose page asks for credentials itself). */
  readonly challenge?: boolean;
}

const write = (handler: Handler, checkMembers = true, challenge = true): WriteRoute => ({ handler, checkMembers, challenge });

/** Keyed `METHOD segment`; every one of them goes through access control first. */
export const WRITE_ROUTES: Readonly<Record<string, WriteRoute>> = {
  'PATCH config': write(patchConfigEndpoint),
  'PUT config': write(putConfig),
  'POST reload': write(postReload),
  'POST failsafe': write(postFailsafe, false),
  'POST sigterm': write(postSigterm),
  'POST restart': write(postRestart),
  'DELETE restart': write(deleteRestart),
  'DELETE switchover': write(deleteSwitchover),
  'POST reinitialize': write(postReinitialize),
  'POST switchover': write(postSwitchover),
  'POST failover': write(postFailover),
  'POST dashboard': write(postDashboardAction, true, false),
};

export const healthWithBody: Handler = (ctx) => healthCheck(ctx, true);
export const healthStatusOnly: Handler = (ctx) => healthCheck(ctx, false);
