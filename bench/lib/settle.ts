/**
 * When is the cluster settled? One leader in the DCS whose REST /primary answers 200, every other
 * member streaming from it (pg_stat_replication by application_name = member name, so the old
 * primary has rejoined), every agent running, and only the leader out of recovery.
 */
import pg from 'pg';
import type { TestCluster, TestNode } from '../../test/helpers/cluster.js';
import { clientConfig } from './load.js';
import { isStopped } from './proctree.js';

export interface ClusterView { members: Array<{ name: string; role: string; state?: string; timeline?: number; lag?: unknown }> }

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  try { return { status: res.status, body: JSON.parse(text) }; } catch { return { status: res.status, body: text }; }
}

/** GET /cluster from the first running (not frozen) agent that answers within 2 s. */
export async function clusterView(cluster: TestCluster): Promise<ClusterView | null> {
  const live = cluster.nodes.filter((n) => n.agentAlive() && !isStopped(n.proc!.pid));
  const answers = await Promise.all(live.map((n) => getJson(`${n.apiUrl}/cluster`, 2000).then((r) => r.body as ClusterView, () => null)));
  return answers.find((a) => a && Array.isArray(a.members)) ?? null;
}

async function inRecovery(n: TestNode): Promise<boolean | null> {
  const c = new pg.Client(clientConfig(n, 1500));
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r === true;
  } catch {
    return null;
  } finally {
    c.end().catch(() => undefined);
  }
}

async function streamingFrom(n: TestNode): Promise<string[]> {
  const c = new pg.Client(clientConfig(n, 3000));
  c.on('error', () => undefined);
  try {
    await c.connect();
    const rows = (await c.query("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")).rows;
    return rows.map((r) => String(r.application_name));
  } finally {
    c.end().catch(() => undefined);
  }
}

function exitedAgents(cluster: TestCluster): string | null {
  const gone = cluster.nodes.filter((n) => !n.agentAlive());
  if (!gone.length) return null;
  const why = (n: TestNode) => (n.proc ? `exited: ${n.proc.output().trim().split('\n').slice(-3).join(' | ')}` : 'not started');
  return `agents not running: ${gone.map((n) => `${n.name} (${why(n)})`).join('; ')}`;
}

/** Not settled yet, and why. */
async function notSettledBecause(cluster: TestCluster, rejoined?: string): Promise<string | TestNode> {
  const view = await clusterView(cluster);
  if (!view) return 'no agent answers GET /cluster';
  const leaders = view.members.filter((m) => m.role === 'leader' || m.role === 'standby_leader');
  if (leaders.length !== 1) return `${leaders.length} leaders in ${JSON.stringify(view.members)}`;
  const leader = cluster.node(leaders[0]!.name);
  const primary = await getJson(`${leader.apiUrl}/primary`, 2000).catch(() => ({ status: 0 }));
  if (primary.status !== 200) return `${leader.name} GET /primary = ${primary.status}`;
  const streaming = await streamingFrom(leader).catch((e) => { throw new Error(`pg_stat_replication on ${leader.name}: ${(e as Error).message}`); });
  const missing = cluster.nodes.filter((n) => n !== leader && !streaming.includes(n.name)).map((n) => n.name);
  if (missing.length) return `not streaming from ${leader.name}: ${missing.join(', ')}${rejoined && missing.includes(rejoined) ? ' (the old primary)' : ''}; members ${JSON.stringify(view.members.map((m) => [m.name, m.role, m.state, m.timeline]))}`;
  const rec = await Promise.all(cluster.nodes.map(async (n) => [n.name, await inRecovery(n)] as const));
  const writable = rec.filter(([, r]) => r === false).map(([name]) => name);
  if (writable.length !== 1 || writable[0] !== leader.name) return `writable: ${writable.join(', ') || 'none'} (leader ${leader.name})`;
  return leader;
}

/**
 * Wait until the cluster is settled; returns the leader. Throws with the last reason on timeout, and
 * at once when an agent has exited (it will not come back by itself).
 */
export async function settled(cluster: TestCluster, timeoutMs: number, rejoined?: string): Promise<TestNode> {
  const deadline = Date.now() + timeoutMs;
  let why = 'not checked';
  for (;;) {
    const exited = exitedAgents(cluster);
    if (exited) throw new Error(exited);
    try {
      const r = await notSettledBecause(cluster, rejoined);
      if (typeof r !== 'string') return r;
      why = r;
    } catch (e) {
      why = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`not settled after ${timeoutMs / 1000} s: ${why}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
