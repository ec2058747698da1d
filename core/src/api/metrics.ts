/** `GET /metrics`: Prometheus text with Patroni's metric names, help texts and `{scope,name}` labels. */
import { parseZonedTime } from '../model/timestamp.js';
import type { ApiBackend } from './backend.js';

/** Patroni's PostgresqlState (value, enum name) in index order; indexes never change, dashboards depend on them. */
const STATES: ReadonlyArray<readonly [string, string]> = [
  ['initializing new cluster', 'initdb'], ['initdb failed', 'initdb_failed'], ['running custom bootstrap script', 'custom_bootstrap'],
  ['custom bootstrap failed', 'custom_bootstrap_failed'], ['creating replica', 'creating_replica'], ['running', 'running'],
  ['starting', 'starting'], ['starting after custom bootstrap', 'bootstrap_starting'], ['start failed', 'start_failed'],
  ['restarting', 'restarting'], ['restart failed', 'restart_failed'], ['stopping', 'stopping'], ['stopped', 'stopped'],
  ['stop failed', 'stop_failed'], ['crashed', 'crashed'],
];

function epochSeconds(v: unknown): number {
  if (typeof v !== 'string' || !v) return 0;
  const t = parseZonedTime(v);
  return t ? t.date.getTime() / 1000 : 0;
}

/** 3.2.1 -> 030201, as Patroni pads each component to two digits. */
function paddedVersion(version: string): string {
  return version.split('.').map((x) => x.padStart(2, '0')).join('');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(backend: ApiBackend, doc: Record<string, unknown>): string {
  const labels = `{scope="${escapeLabel(backend.scope)}",name="${escapeLabel(backend.name)}"}`;
  const xlog = (doc.xlog ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const flag = (v: unknown) => (v ? 1 : 0);
  const lines: string[] = [];
  const metric = (name: string, help: string, type: string, value: number | string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  };
  const role = doc.role;
  metric('patroni_version', 'Patroni semver without periods.', 'gauge', paddedVersion(backend.version));
  metric('patroni_postgres_running', 'Value is 1 if Postgres is running, 0 otherwise.', 'gauge', flag(doc.state === 'running'));
  metric('patroni_postmaster_start_time', 'Epoch seconds since Postgres started.', 'gauge', epochSeconds(doc.postmaster_start_time));
  metric('patroni_master', 'Value is 1 if this node is the leader, 0 otherwise.', 'gauge', flag(role === 'primary'));
  metric('patroni_primary', 'Value is 1 if this node is the leader, 0 otherwise.', 'gauge', flag(role === 'primary'));
  metric('patroni_xlog_location', 'Current location of the Postgres transaction log, 0 if this node is not the leader.', 'counter', num(xlog.location));
  metric('patroni_standby_leader', 'Value is 1 if this node is the standby_leader, 0 otherwise.', 'gauge', flag(role === 'standby_leader'));
  metric('patroni_replica', 'Value is 1 if this node is a replica, 0 otherwise.', 'gauge', flag(role === 'replica'));
  metric('patroni_sync_standby', 'Value is 1 if this node is a sync standby, 0 otherwise.', 'gauge', flag(doc.sync_standby));
  metric('patroni_quorum_standby', 'Value is 1 if this node is a quorum standby, 0 otherwise.', 'gauge', flag(doc.quorum_standby));
  metric('patroni_xlog_received_location', 'Current location of the received Postgres transaction log, 0 if this node is not a replica.', 'counter', num(xlog.received_location));
  metric('patroni_xlog_replayed_location', 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.', 'counter', num(xlog.replayed_location));
  metric('patroni_xlog_replayed_timestamp', 'Current timestamp of the replayed Postgres transaction log, 0 if null.', 'gauge', epochSeconds(xlog.replayed_timestamp));
  metric('patroni_xlog_paused', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', 'gauge', flag(xlog.paused === true));
  if (num(doc.server_version) >= 90600) {
    metric('patroni_postgres_streaming', 'Value is 1 if Postgres is streaming, 0 otherwise.', 'gauge', flag(doc.replication_state === 'streaming'));
    metric('patroni_postgres_in_archive_recovery', 'Value is 1 if Postgres is replicating from archive, 0 otherwise.', 'gauge', flag(doc.replication_state === 'in archive recovery'));
  }
  metric('patroni_postgres_server_version', 'Version of Postgres (if running), 0 otherwise.', 'gauge', num(doc.server_version));
  metric('patroni_cluster_unlocked', 'Value is 1 if the cluster is unlocked, 0 if locked.', 'gauge', flag(doc.cluster_unlocked));
  metric('patroni_failsafe_mode_is_active', 'Value is 1 if failsafe mode is active, 0 if inactive.', 'gauge', flag(doc.failsafe_mode_is_active));
  metric('patroni_postgres_timeline', 'Postgres timeline of this node (if running), 0 otherwise.', 'counter', num(doc.timeline));
  metric('patroni_dcs_last_seen', 'Epoch timestamp when DCS was last contacted successfully by Patroni.', 'gauge', num(doc.dcs_last_seen));
  metric('patroni_pending_restart', 'Value is 1 if the node needs a restart, 0 otherwise.', 'gauge', flag(doc.pending_restart));
  metric('patroni_is_paused', 'Value is 1 if auto failover is disabled, 0 otherwise.', 'gauge', flag(doc.pause));
  lines.push('# HELP patroni_postgres_state Numeric representation of Postgres state.',
    `# Values: ${STATES.map(([, name], i) => `${i}=${name}`).join(', ')}`,
    '# TYPE patroni_postgres_state gauge',
    `patroni_postgres_state${labels} ${STATES.findIndex(([value]) => value === doc.state)}`);
  // pgha extras: the software fence.
  metric('pgha_fence_armed', 'Value is 1 if the software fence / watchdog is armed, 0 otherwise.', 'gauge', flag(doc.fence_armed));
  return lines.join('\n') + '\n';
}
