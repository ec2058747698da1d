/**
 * The member table of `list`/`topology` (and the before/after views of switchover, restart...):
 * Patroni 4.1's cluster_as_json rules for role/state/LSNs/lags computed from a DCS read, then
 * patronictl 4.1's output_members layout: Receive LSN, Receive Lag, Replay LSN, Replay Lag (both lag
 * columns headed `Lag` in pretty tables).
 */
import { formatLsn, formatZonedTime, isPlainObject, parseBool, truthy, type Cluster } from '@pgha/core';
import { formatOutput, formatYaml, type Cell, type OutputFormat } from './output.js';

export interface MemberView {
  name: string;
  role: string;
  state: string;
  api_url: string | null;
  host?: string;
  port?: number;
  timeline?: unknown;
  /** Per LSN kind (`receive_`, `replay_`, plain): formatted LSN and lag in bytes, or 'unknown'. */
  lsn?: string;
  lag?: number | 'unknown';
  receive_lsn?: string;
  receive_lag?: number | 'unknown';
  replay_lsn?: string;
  replay_lag?: number | 'unknown';
  tags?: Record<string, unknown>;
  pending_restart?: unknown;
  pending_restart_reason?: Record<string, { old_value: string; new_value: string }>;
  scheduled_restart?: Record<string, unknown>;
  /** Percent done of a replica creation or restore (pgha's member key `progress`). */
  progress?: number;
}

export interface ClusterView {
  members: MemberView[];
  pause?: true;
  scheduled_switchover?: { at: string; from?: string; to?: string };
}

/** Settings from `/config` the views depend on. */
export function dynamicFlags(cluster: Cluster): { paused: boolean; standbyCluster: boolean; synchronousMode: boolean; quorum: boolean } {
  const cfg = cluster.config?.data ?? {};
  const sc = cfg.standby_cluster;
  const standbyCluster = isPlainObject(sc) && (truthy(sc.host) || truthy(sc.port) || truthy(sc.restore_command));
  const mode = cfg.synchronous_mode;
  const synchronousMode = !standbyCluster && (mode === 'quorum' || parseBool(mode) === true);
  return { paused: parseBool(cfg.pause) === true, standbyCluster, synchronousMode, quorum: synchronousMode && mode === 'quorum' };
}

function intOf(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) ? n : null;
}

/** cluster_as_json: roles leader/standby_leader/sync_standby/quorum_standby/replica, lag in bytes. */
export function clusterView(cluster: Cluster): ClusterView {
  const flags = dynamicFlags(cluster);
  const leaderName = cluster.leaderName;
  const members = cluster.members.map((m) => {
    let role = 'replica';
    if (m.name === leaderName) role = flags.standbyCluster ? 'standby_leader' : 'leader';
    else if (flags.synchronousMode && cluster.sync.matches(m.name)) role = flags.quorum ? 'quorum_standby' : 'sync_standby';
    const replState = typeof m.data.replication_state === 'string' ? m.data.replication_state : '';
    const state = (role !== 'leader' ? replState : '') || m.state;
    const v: MemberView = { name: m.name, role, state, api_url: m.apiUrl };
    const kw = m.connKwargs();
    if (kw.host) {
      v.host = String(kw.host);
      const port = intOf(kw.port);
      if (port) v.port = port;
    }
    if ('timeline' in m.data) v.timeline = m.data.timeline;
    if (m.name !== leaderName) {
      for (const [kind, field] of [['receive_', 'receive_lsn'], ['replay_', 'replay_lsn'], ['', 'xlog_location']] as const) {
        const lsn = intOf(m.data[field]);
        const view = v as unknown as Record<string, unknown>;
        view[`${kind}lsn`] = lsn ? formatLsn(BigInt(lsn)) : 'unknown';
        view[`${kind}lag`] = lsn ? Math.max(0, cluster.lastLsn - lsn) : 'unknown';
      }
    }
    if (isPlainObject(m.data.tags)) v.tags = m.data.tags;
    if ('pending_restart' in m.data) v.pending_restart = m.data.pending_restart;
    if (isPlainObject(m.data.pending_restart_reason)) v.pending_restart_reason = m.data.pending_restart_reason as MemberView['pending_restart_reason'];
    if (isPlainObject(m.data.scheduled_restart)) v.scheduled_restart = m.data.scheduled_restart;
    const pct = isPlainObject(m.data.progress) ? m.data.progress.percent : undefined;
    if (state === m.state && typeof pct === 'number' && Number.isFinite(pct) && pct >= 0 && pct <= 100) v.progress = Math.floor(pct);
    return v;
  });
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: ClusterView = { members };
  if (flags.paused) out.pause = true;
  const f = cluster.failover;
  if (f?.size && f.scheduledAt) {
    out.scheduled_switchover = { at: formatZonedTime(f.scheduledAt), ...(f.leader ? { from: f.leader } : {}), ...(f.candidate ? { to: f.candidate } : {}) };
  }
  return out;
}

/** Replicas indented under the member they stream from (`replicatefrom`), leader first. */
export function topologySort(members: MemberView[]): MemberView[] {
  const leader = members.find((m) => m.role.endsWith('leader'));
  const replicas = new Set(members.filter((m) => !m.role.endsWith('leader')).map((m) => m.name));
  const children = new Map<string | null, MemberView[]>();
  for (const m of members) {
    if (m.role.endsWith('leader')) continue;
    const from = m.tags?.replicatefrom;
    const parent = typeof from === 'string' && from && from !== m.name && replicas.has(from) ? from : leader?.name ?? null;
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const out: MemberView[] = [];
  const walk = (level: number, name: string | null, m: MemberView | null) => {
    if (m) out.push(level > 0 ? { ...m, name: `${' '.repeat((level - 1) * 2)}+ ${m.name}` } : m);
    for (const c of children.get(name) ?? []) walk(level + 1, c.name, c);
  };
  walk(0, leader?.name ?? null, leader ?? null);
  return out;
}

/** ' Maintenance mode: on' and the scheduled switchover, printed under pretty tables. */
export function serviceInfo(view: ClusterView): string[] {
  const info: string[] = [];
  if (view.pause) info.push('Maintenance mode: on');
  const sw = view.scheduled_switchover;
  if (sw) {
    let s = `Switchover scheduled at: ${sw.at}`;
    if (sw.from) s += `\n${'from'.padStart(24)}: ${sw.from}`;
    if (sw.to) s += `\n${'to'.padStart(24)}: ${sw.to}`;
    info.push(s);
  }
  return info;
}

function titleCase(role: string): string {
  return role.split('_').map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w)).join(' ');
}

/**
 * The four LSN cells of a row as output_members fills them: lags in MB rounded, `unknown` shown
 * empty; a member that reports only `xlog_location` (an older agent) shows it as receive (streaming)
 * or replay position.
 */
function lsnCells(m: MemberView): Record<string, Cell> {
  let [receiveLsn, receiveLag, replayLsn, replayLag]: Cell[] = [m.receive_lsn ?? '', m.receive_lag ?? '', m.replay_lsn ?? '', m.replay_lag ?? ''];
  if (receiveLsn === 'unknown' && replayLsn === 'unknown' && m.lsn && m.lsn !== 'unknown') {
    if (m.state === 'streaming') [receiveLag, receiveLsn] = [m.lag ?? '', m.lsn];
    else [replayLag, replayLsn] = [m.lag ?? '', m.lsn];
  }
  const mb = (lag: Cell): Cell => (typeof lag === 'number' ? pyRound(lag / 1024 / 1024) : lag === 'unknown' ? '' : lag);
  return { 'Receive LSN': receiveLsn, 'Receive Lag': mb(receiveLag), 'Replay LSN': replayLsn, 'Replay Lag': mb(replayLag) };
}

/** Python 3's round(): halves to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The full `list` output for one cluster in the given format. */
export function formatMembers(cluster: Cluster, name: string, o: { extended?: boolean; fmt?: OutputFormat } = {}): string {
  const fmt = o.fmt ?? 'pretty';
  const view = clusterView(cluster);
  const initialize = cluster.initialize === null ? 'uninitialized' : cluster.initialize === '' ? 'initializing' : cluster.initialize;
  const columns = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Receive LSN', 'Receive Lag', 'Replay LSN', 'Replay Lag'];
  const withHost = view.members.filter((m) => m.host !== undefined);
  const extra: Array<[string, keyof MemberView]> = [
    ['Pending restart', 'pending_restart'], ['Pending restart reason', 'pending_restart_reason'],
    ['Scheduled restart', 'scheduled_restart'], ['Tags', 'tags'],
  ];
  for (const [col, key] of extra) {
    if (o.extended || withHost.some((m) => truthy(m[key]))) columns.push(col);
  }
  // host:port when somebody runs on a non-default port or two members share a host.
  const appendPort = withHost.some((m) => m.port !== undefined && m.port !== 5432) || new Set(withHost.map((m) => m.host)).size < withHost.length;
  const members = fmt === 'topology' ? topologySort(view.members) : view.members;
  const rows: Cell[][] = members.map((m) => {
    const reason = Object.entries(m.pending_restart_reason ?? {}).map(([k, v]) => {
      const full = `${k}: ${v.old_value}->${v.new_value}`;
      return fmt === 'pretty' || fmt === 'topology' ? (full.length <= 50 ? full : `${k}: [hidden - too long]`) : full;
    }).join('\n');
    let sched: Cell = '';
    if (m.scheduled_restart) {
      sched = String(m.scheduled_restart.schedule ?? '');
      if ('postgres_version' in m.scheduled_restart) sched += ` if version < ${String(m.scheduled_restart.postgres_version)}`;
    }
    const lsns = lsnCells(m);
    const host = appendPort && m.host && m.port ? `${m.host}:${m.port}` : m.host ?? '';
    const tags: Cell = m.tags && Object.keys(m.tags).length
      ? (fmt === 'json' || fmt === 'yaml' || fmt === 'yml' ? m.tags : formatYaml(m.tags, fmt !== 'pretty').trim())
      : '';
    const byColumn: Record<string, Cell> = {
      Cluster: name, Member: m.name, Host: host, Role: titleCase(m.role), TL: m.timeline ?? '',
      // `creating replica 42%` for people; machine formats keep Patroni's plain state.
      State: m.progress !== undefined && (fmt === 'pretty' || fmt === 'topology' || fmt === 'tsv') ? `${m.state} ${m.progress}%` : m.state,
      ...lsns, 'Pending restart': truthy(m.pending_restart) ? '*' : '', 'Pending restart reason': reason,
      'Scheduled restart': sched, Tags: tags,
    };
    return columns.map((c) => byColumn[c]);
  });
  // Pretty tables head both lag columns `Lag` (patronictl 4.1); machine formats keep the full names.
  const shown = fmt === 'pretty' || fmt === 'topology' ? columns.map((c) => (c === 'Receive Lag' || c === 'Replay Lag' ? 'Lag' : c)) : columns;
  const table = formatOutput(shown, rows, { fmt, title: ` Cluster: ${name} (${initialize}) `, align: { 'Receive LSN': 'r', 'Replay LSN': 'r', Lag: 'r', TL: 'r' } });
  if (fmt !== 'pretty' && fmt !== 'topology') return table;
  const info = serviceInfo(view);
  return info.length ? `${table}\n ${info.join('\n ')}` : table;
}
