/**
 * The `GET /patroni` document (also the body of every health check): local PostgreSQL facts from
 * the agent plus the cluster-wide flags, in Patroni's field names and order (reference §4.3).
 */
import type { Cluster } from '../model/cluster.js';
import { parseIntLoose } from '../model/names.js';
import { formatZonedTime, type ZonedTime } from '../model/timestamp.js';
import { progressJson } from '../replica/progress.js';
import { withDeadline } from '../util/clock.js';
import { isPlainObject, parseBool, truthy } from '../util/json.js';
import type { ApiBackend, NodeStatus } from './backend.js';
import type { ApiContext } from './types.js';

/** The dynamic settings the API needs, from `/config` when the DCS view has one, else the agent's. */
export interface GlobalView {
  readonly paused: boolean;
  readonly synchronousMode: boolean;
  readonly quorumMode: boolean;
  readonly standbyCluster: boolean;
  readonly maximumLagOnFailover: number;
}

export function isStandbyClusterConfig(v: unknown): boolean {
  return isPlainObject(v) && (truthy(v.host) || truthy(v.port) || truthy(v.restore_command));
}

export function globalView(backend: ApiBackend, cluster: Cluster | null): GlobalView {
  const cfg = cluster?.config && truthy(cluster.config.modifyVersion) ? cluster.config.data : null;
  if (!cfg) {
    return { paused: backend.settings.paused, synchronousMode: backend.settings.synchronousMode, quorumMode: false, standbyCluster: false, maximumLagOnFailover: 1048576 };
  }
  const standbyCluster = isStandbyClusterConfig(cfg.standby_cluster);
  const mode = cfg.synchronous_mode;
  const synchronousMode = !standbyCluster && (mode === 'quorum' || parseBool(mode) === true);
  return {
    paused: parseBool(cfg.pause) === true,
    synchronousMode,
    quorumMode: synchronousMode && mode === 'quorum',
    standbyCluster,
    maximumLagOnFailover: parseIntLoose(cfg.maximum_lag_on_failover) ?? 1048576,
  };
}

const QUERYABLE_STATES = new Set(['running', 'restarting', 'starting']);

export function isPrimaryRole(role: string): boolean {
  return role === 'primary' || role === 'master';
}

/** Patroni v4 names the primary `primary`; older agents may still say `master`. */
function v4Role(role: string): string {
  return role === 'master' ? 'primary' : role;
}

function postgresPart(st: NodeStatus, cluster: Cluster | null, view: GlobalView, name: string): Record<string, unknown> {
  const queried = QUERYABLE_STATES.has(st.state) && (st.walLocation !== null || st.replayedLocation !== null || st.receivedLocation !== null);
  if (!queried) return { state: st.state, role: v4Role(st.role) };
  const role = v4Role(st.role);
  const out: Record<string, unknown> = {
    state: st.state,
    postmaster_start_time: st.postmasterStartTime,
    role,
    server_version: st.serverVersion,
    xlog: isPrimaryRole(role)
      ? { location: st.walLocation }
      : { received_location: st.receivedLocation ?? st.replayedLocation, replayed_location: st.replayedLocation, replayed_timestamp: st.replayedTimestamp, paused: st.replayPaused },
  };
  if (role === 'replica' && view.synchronousMode && cluster?.sync.matches(name)) {
    out[view.quorumMode ? 'quorum_standby' : 'sync_standby'] = true;
  }
  if (st.timeline !== null) out.timeline = st.timeline;
  if (st.replicationState) out.replication_state = st.replicationState;
  if (st.replication.length) out.replication = st.replication;
  return out;
}

function scheduleText(v: unknown): unknown {
  if (isPlainObject(v) && v.date instanceof Date) return formatZonedTime(v as unknown as ZonedTime);
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** Local status with a deadline: a hung monitoring query must not hang HAProxy's checks. */
export async function fetchNodeStatus(ctx: ApiContext): Promise<NodeStatus | null> {
  try {
    return await withDeadline(ctx.backend.nodeStatus(), ctx.options.statusTimeoutMs, () => new Error('PostgreSQL status query timed out'));
  } catch (e) {
    ctx.logger.warn({ err: e }, 'REST API: could not get the PostgreSQL status');
    return null;
  }
}

/** The full `/patroni` JSON. `st` null means the status could not be read at all. */
export function statusDocument(backend: ApiBackend, st: NodeStatus | null): Record<string, unknown> {
  const cluster = backend.cachedCluster();
  const view = globalView(backend, cluster);
  const out = st ? postgresPart(st, cluster, view, backend.name) : { state: 'unknown', role: 'unknown' };
  if (view.paused) out.pause = true;
  if (!cluster || cluster.isUnlocked()) out.cluster_unlocked = true;
  if (backend.failsafeActive?.()) out.failsafe_mode_is_active = true;
  out.dcs_last_seen = backend.dcs.lastSeen;
  const tags = backend.tags.tags;
  if (Object.keys(tags).length) out.tags = tags;
  if (st?.sysid) out.database_system_identifier = st.sysid;
  const reason = st?.pendingRestartReason;
  if (st?.pendingRestart || (reason && Object.keys(reason).length)) {
    out.pending_restart = true;
    if (reason && Object.keys(reason).length) out.pending_restart_reason = reason;
  }
  out.patroni = { version: backend.version, scope: backend.scope, name: backend.name };
  const scheduled = backend.scheduledRestart();
  if (scheduled) {
    const { postmaster_start_time: _omit, ...rest } = scheduled;
    out.scheduled_restart = { ...rest, schedule: scheduleText(rest.schedule) };
  }
  const fence = backend.fenceStatus();
  if (fence.watchdogFailed) out.watchdog_failed = true;
  // pgha extras: new keys only, so Patroni's consumers (which ignore unknown keys) keep working.
  out.fence_armed = fence.armed;
  const decision = backend.lastDecision();
  out.decision = { message: decision.message, reason: decision.reason };
  if (st?.progress) out.progress = progressJson(st.progress);
  return out;
}
