/**
 * Health-check endpoints for load balancers (reference §4.1): `/primary`, `/replica?lag=..`, `/sync`,
 * ... answer 200 or 503 with the `/patroni` document (status line only for HEAD/OPTIONS), plus
 * `/liveness` and `/readiness`. The rules mirror Patroni's do_GET exactly, including its substring
 * matching of paths (`/primary/anything` is a primary check; an unknown path is always 503).
 */
import { HttpError, jsonReply, statusOnly } from './http-util.js';
import { parseIntWithUnit } from './parsing.js';
import { fetchNodeStatus, globalView, isPrimaryRole, statusDocument } from './status.js';
import type { ApiContext, Reply } from './types.js';
import { isPlainObject } from '../util/json.js';

function lagLimit(ctx: ApiContext): number | null {
  const raw = ctx.query.get('lag');
  if (raw === undefined) return null;
  const lag = parseIntWithUnit(raw, 'B');
  // Patroni silently ignores a bad value; we refuse it so a typo in a check is visible, not ignored.
  if (lag === null) throw new HttpError(400, `invalid lag value "${raw}": expected bytes or a size like 10MB`);
  return lag;
}

/** A `?tag_<name>=<value>` filter that the node's tags don't satisfy turns a 200 into 503. */
function tagsMatch(ctx: ApiContext): boolean {
  const tags = ctx.backend.tags.tags;
  for (const [key, wanted] of ctx.query) {
    if (!key.startsWith('tag_')) continue;
    const actual = tags[key.slice(4)];
    if (actual === undefined || actual === null) return false;
    const text = typeof actual === 'string' ? actual : String(actual).toLowerCase();
    if (text !== wanted) return false;
  }
  return true;
}

/** The health status code for `ctx.path`, given the `/patroni` document. */
export function healthStatusCode(ctx: ApiContext, doc: Record<string, unknown>): number {
  const { backend } = ctx;
  const path = ctx.path === '/' ? '/primary' : ctx.path;
  const cluster = backend.cachedCluster();
  const view = globalView(backend, cluster);
  const role = doc.role;
  const xlog = isPlainObject(doc.xlog) ? doc.xlog : {};

  const maxLag = lagLimit(ctx);
  const leaderOptime = cluster?.lastLsn ?? 0;
  const replayed = typeof xlog.replayed_location === 'number' ? xlog.replayed_location : 0;
  const isLagging = maxLag !== null && leaderOptime > 0 && leaderOptime > replayed + maxLag;
  const wantedReplState = ctx.query.get('replication_state');
  const replStateMatches = wantedReplState === undefined || doc.replication_state === wantedReplState;

  const replicaCode = !backend.tags.noloadbalance && !isLagging && role === 'replica' && doc.state === 'running' && replStateMatches ? 200 : 503;
  let leaderCode = 503;
  let primaryCode = 503;
  let standbyLeaderCode = 503;
  let replicaOrNot = replicaCode;
  if (!cluster && doc.pause) {
    // No DCS view while paused: trust what PostgreSQL says it is.
    leaderCode = isPrimaryRole(String(role)) || role === 'standby_leader' ? 200 : 503;
    primaryCode = isPrimaryRole(String(role)) ? 200 : 503;
    standbyLeaderCode = role === 'standby_leader' ? 200 : 503;
  } else if (backend.isLeader()) {
    leaderCode = 200;
    if (view.standbyCluster) {
      replicaOrNot = 503;
      standbyLeaderCode = role === 'replica' || role === 'standby_leader' ? 200 : 503;
    } else {
      primaryCode = 200;
    }
  }

  let code = 503;
  let ignoreTags = false;
  if (path.includes('standby_leader') || path.includes('standby-leader')) {
    code = standbyLeaderCode;
    ignoreTags = true;
  } else if (path.includes('leader')) {
    code = leaderCode;
    ignoreTags = true;
  } else if (path.includes('master') || path.includes('primary') || path.includes('read-write')) {
    code = primaryCode;
    ignoreTags = true;
  } else if (path.includes('replica')) {
    code = replicaOrNot;
  } else if (path.includes('read-only') && !path.includes('sync') && !path.includes('quorum')) {
    code = primaryCode === 200 || standbyLeaderCode === 200 ? 200 : replicaOrNot;
  } else if (path.includes('health')) {
    code = doc.state === 'running' ? 200 : 503;
  } else if (cluster) {
    const isQuorum = !!doc.quorum_standby;
    const isSync = !!doc.sync_standby;
    const leaderOk = primaryCode === 200 || standbyLeaderCode === 200;
    if ((path === '/sync' || path === '/synchronous') && isSync) code = replicaOrNot;
    else if (path === '/quorum' && isQuorum) code = replicaOrNot;
    else if ((path === '/async' || path === '/asynchronous') && !isSync && !isQuorum) code = replicaOrNot;
    else if (path === '/read-only-quorum') code = leaderOk ? 200 : isQuorum ? replicaOrNot : 503;
    else if (path === '/read-only-sync' || path === '/read-only-synchronous') code = leaderOk ? 200 : isSync ? replicaOrNot : 503;
  }
  if (!ignoreTags && code === 200 && !tagsMatch(ctx)) code = 503;
  return code;
}

/** GET (full body) or HEAD/OPTIONS (status only) of any health path. */
export async function healthCheck(ctx: ApiContext, withBody: boolean): Promise<Reply> {
  const doc = statusDocument(ctx.backend, await fetchNodeStatus(ctx));
  const code = healthStatusCode(ctx, doc);
  return withBody ? jsonReply(code, doc) : statusOnly(code);
}

/** 200 while paused or while the HA loop keeps cycling (ttl on the leader, 2*ttl elsewhere). No SQL. */
export function liveness(ctx: ApiContext): Reply {
  const { backend } = ctx;
  const thresholdMs = backend.settings.ttl * 1000 * (backend.isLeader() ? 1 : 2);
  const alive = globalView(backend, backend.cachedCluster()).paused ||
    backend.lastCycleStartedAt() + thresholdMs > ctx.options.clock.monotonic();
  return statusOnly(alive ? 200 : 503);
}

/** Why this node is not ready, or null when it is (Patroni v4 rules, lag-aware). */
async function notReadyReason(ctx: ApiContext): Promise<string | null> {
  const { backend } = ctx;
  if (backend.isLeader()) return null;
  const st = await fetchNodeStatus(ctx);
  if (!st || st.state !== 'running') return 'PostgreSQL is not running';
  if (st.replicationState !== 'streaming') return 'PostgreSQL replication state is not streaming';
  const cluster = backend.cachedCluster();
  if (!cluster) return backend.failsafeActive?.() ? null : 'DCS is not accessible';
  const mode = ctx.query.get('mode') === 'write' ? 'write' : 'apply';
  const location = (mode === 'write' ? st.receivedLocation : st.replayedLocation) ?? 0;
  const lag = cluster.lastLsn - location;
  const maxLag = lagLimit(ctx) ?? globalView(backend, cluster).maximumLagOnFailover;
  return lag > maxLag ? `Replication ${mode} lag ${lag} exceeds maximum allowable ${maxLag}` : null;
}

export async function readiness(ctx: ApiContext): Promise<Reply> {
  const reason = await notReadyReason(ctx);
  if (reason) ctx.logger.debug(`Readiness check failure: ${reason}`);
  return statusOnly(reason ? 503 : 200);
}
