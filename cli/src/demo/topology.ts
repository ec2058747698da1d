/** The cluster as the agents' REST API reports it (GET /cluster), health, a table and one-line summaries. */
import type { DemoNode } from './config.js';

export interface ClusterMember {
  readonly name: string;
  readonly role: string;
  readonly state: string;
  readonly host?: string;
  readonly port?: number;
  readonly api_url?: string;
  readonly timeline?: number;
  readonly lag?: number | string;
}

export interface ClusterView {
  readonly members: ClusterMember[];
  /** The agent that answered. */
  readonly from: string;
}

const LEADER_ROLES = new Set(['leader', 'standby_leader']);
const REPLICA_ROLES = new Set(['replica', 'sync_standby', 'quorum_standby']);

export async function fetchCluster(nodes: readonly DemoNode[], alive: (n: DemoNode) => boolean, timeoutMs = 2000): Promise<ClusterView | null> {
  for (const n of nodes) {
    if (!alive(n)) continue;
    try {
      const res = await fetch(`http://127.0.0.1:${n.apiPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status !== 200) continue;
      const body = (await res.json()) as { members?: ClusterMember[] };
      if (Array.isArray(body.members)) return { members: body.members, from: n.name };
    } catch { /* next agent */ }
  }
  return null;
}

export function leaderOf(v: ClusterView | null): ClusterMember | null {
  return v?.members.find((m) => LEADER_ROLES.has(m.role)) ?? null;
}

/** One running leader and `count - 1` streaming replicas. */
export function isHealthy(v: ClusterView | null, count: number): boolean {
  if (!v || v.members.length !== count) return false;
  const leader = leaderOf(v);
  if (!leader || leader.state !== 'running') return false;
  return v.members.filter((m) => REPLICA_ROLES.has(m.role) && m.state === 'streaming').length === count - 1;
}

/** What we are still waiting for, e.g. `node1 running leader, node2 creating replica, node3 (no member key)`. */
export function progress(v: ClusterView | null, nodes: readonly DemoNode[]): string {
  if (!v) return 'no agent answers yet';
  return nodes.map((n) => {
    const m = v.members.find((x) => x.name === n.name);
    return m ? `${n.name} ${m.role}/${m.state}` : `${n.name} starting`;
  }).join(', ');
}

/** A short line for the status stream: leader first, then every member's state. */
export function summary(v: ClusterView | null, nodes: readonly DemoNode[]): string {
  if (!v) return 'no agent answers';
  const leader = leaderOf(v);
  const parts = nodes.map((n) => {
    const m = v.members.find((x) => x.name === n.name);
    if (!m) return `${n.name}: gone`;
    return `${n.name}: ${m.role === 'leader' ? 'leader' : m.role} ${m.state}${m.timeline !== undefined ? ` tl${m.timeline}` : ''}`;
  });
  return `${leader ? `leader ${leader.name}` : 'NO LEADER'} | ${parts.join(', ')}`;
}

export interface PidInfo {
  agent: number | null;
  postmaster: number | null;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const fmt = (r: string[]) => '|' + r.map((c, i) => ` ${c.padEnd(widths[i]!)} `).join('|') + '|';
  return [line, fmt(header), line, ...rows.map(fmt), line].join('\n');
}

export function topologyTable(scope: string, v: ClusterView, nodes: readonly DemoNode[], pids: (n: DemoNode) => PidInfo): string {
  const rows = nodes.map((n) => {
    const m = v.members.find((x) => x.name === n.name);
    const p = pids(n);
    const lag = m?.lag === undefined || m.lag === '' ? '' : typeof m.lag === 'number' ? (m.lag / 1048576).toFixed(0) : String(m.lag);
    return [
      n.name, m?.role ?? '-', m?.state ?? 'unknown', m?.timeline !== undefined ? String(m.timeline) : '', lag,
      `127.0.0.1:${n.pgPort}`, `http://127.0.0.1:${n.apiPort}`, `127.0.0.1:${n.raftPort}`,
      p.agent ? String(p.agent) : '-', p.postmaster ? String(p.postmaster) : '-',
    ];
  });
  return `Cluster: ${scope}\n` + table(['Member', 'Role', 'State', 'TL', 'Lag MB', 'PostgreSQL', 'REST API', 'Raft', 'agent pid', 'postmaster pid'], rows);
}
