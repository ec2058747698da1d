/**
 * `GET /metrics`: Prometheus text with Patroni 4.1's metric names, help texts, types and
 * `{scope,name}` labels, in Patroni's order (so existing Grafana dashboards keep working), then
 * pgha's own: the fence, the last HA decision, HA cycle and DCS call durations.
 */
import { parseZonedTime } from '../model/timestamp.js';
import type { ApiBackend } from './backend.js';
import type { Histogram } from './ha-metrics.js';
import { isPlainObject } from '../util/json.js';

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

/** Longest label value for free text (decision messages), so one odd message can't bloat every scrape. */
const MAX_LABEL_CHARS = 200;

class Exposition {
  readonly lines: string[] = [];
  constructor(private readonly labels: string) {}

  private withLabels(extra: string): string {
    return extra ? `${this.labels.slice(0, -1)},${extra}}` : this.labels;
  }

  metric(name: string, help: string, type: string, value: number | string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${this.labels} ${value}`);
  }

  header(name: string, help: string, type: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, extra: string, value: number | string): void {
    this.lines.push(`${name}${this.withLabels(extra)} ${value}`);
  }

  histogram(name: string, extra: string, h: Histogram): void {
    const sep = extra ? `${extra},` : '';
    for (const [le, n] of h.cumulative()) this.sample(`${name}_bucket`, `${sep}le="${le}"`, n);
    this.sample(`${name}_sum`, extra, Number(h.sum.toFixed(6)));
    this.sample(`${name}_count`, extra, h.count);
  }
}

export function label(key: string, value: string): string {
  const v = value.length > MAX_LABEL_CHARS ? `${value.slice(0, MAX_LABEL_CHARS - 3)}...` : value;
  return `${key}="${escapeLabel(v)}"`;
}

/** `monotonicNowMs`: the clock `lastCycleStartedAt()` is measured on. */
export function renderMetrics(backend: ApiBackend, doc: Record<string, unknown>, monotonicNowMs: number): string {
  const out = new Exposition(`{${label('scope', backend.scope)},${label('name', backend.name)}}`);
  const metric = out.metric.bind(out);
  const xlog = isPlainObject(doc.xlog) ? doc.xlog : {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const flag = (v: unknown) => (v ? 1 : 0);
  const role = doc.role;
  metric('patroni_version', 'Patroni semver without periods.', 'gauge', paddedVersion(backend.version));
  metric('patroni_postgres_running', 'Value is 1 if Postgres is running, 0 otherwise.', 'gauge', flag(doc.state === 'running'));
  metric('patroni_postmaster_start_time', 'Epoch seconds since Postgres started.', 'gauge', epochSeconds(doc.postmaster_start_time));
  // patroni_master: the Patroni 3.x name of patroni_primary, still read by older dashboards.
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
  metric('patroni_failsafe_mode_enabled', 'Value is 1 if failsafe_mode is enabled, 0 otherwise.', 'gauge', flag(backend.settings.failsafeMode));
  const failsafe = backend.cachedCluster()?.failsafe;
  metric('patroni_failsafe_member', 'Value is 1 if this node is a member of failsafe, 0 otherwise.', 'gauge',
    flag(failsafe && typeof failsafe === 'object' && Object.hasOwn(failsafe, backend.name)));
  metric('patroni_postgres_timeline', 'Postgres timeline of this node (if running), 0 otherwise.', 'gauge', num(doc.timeline));
  metric('patroni_dcs_last_seen', 'Epoch timestamp when DCS was last contacted successfully by Patroni.', 'gauge', num(doc.dcs_last_seen));
  metric('patroni_pending_restart', 'Value is 1 if the node needs a restart, 0 otherwise.', 'gauge', flag(doc.pending_restart));
  metric('patroni_is_paused', 'Value is 1 if auto failover is disabled, 0 otherwise.', 'gauge', flag(doc.pause));
  out.lines.push('# HELP patroni_postgres_state Numeric representation of Postgres state.',
    `# Values: ${STATES.map(([, name], i) => `${i}=${name}`).join(', ')}`,
    '# TYPE patroni_postgres_state gauge');
  out.sample('patroni_postgres_state', '', STATES.findIndex(([value]) => value === doc.state));
  metric('patroni_failover_priority', 'Failover priority of this node.', 'gauge', backend.tags.failoverPriority);

  // pgha's own.
  metric('pgha_fence_armed', 'Value is 1 if the software fence / watchdog is armed, 0 otherwise.', 'gauge', flag(doc.fence_armed));
  metric('pgha_watchdog_failed', 'Value is 1 if the kernel watchdog could not be armed when it was required, 0 otherwise.', 'gauge', flag(doc.watchdog_failed));
  const decision = backend.lastDecision();
  out.header('pgha_last_decision_info', 'The message and reason of the last HA decision (value is always 1).', 'gauge');
  out.sample('pgha_last_decision_info', `${label('message', decision.message)},${label('reason', decision.reason ?? '')}`, 1);
  const started = backend.lastCycleStartedAt();
  metric('pgha_ha_loop_age_seconds', 'Seconds since the last HA cycle started, -1 before the first one.', 'gauge',
    started > 0 ? Number(Math.max(0, (monotonicNowMs - started) / 1000).toFixed(3)) : -1);
  const m = backend.metrics;
  if (m) {
    out.header('pgha_ha_loop_duration_seconds', 'Duration of HA cycles: gather facts, decide, act, publish the member key.', 'histogram');
    out.histogram('pgha_ha_loop_duration_seconds', '', m.loop);
    const ops = m.dcsOperations();
    out.header('pgha_dcs_call_duration_seconds', 'Duration of DCS calls by operation, failed ones included.', 'histogram');
    for (const [op, e] of ops) out.histogram('pgha_dcs_call_duration_seconds', label('operation', op), e.duration);
    out.header('pgha_dcs_call_errors_total', 'DCS calls that failed or timed out, by operation.', 'counter');
    for (const [op, e] of ops) out.sample('pgha_dcs_call_errors_total', label('operation', op), e.errors);
  }
  return out.lines.join('\n') + '\n';
}
