/**
 * Cost at idle, on a settled cluster with no client load: RSS of every agent and of every helper in
 * its tree (PostgreSQL excluded), CPU % per node (agent + helpers, time on a CPU from /proc's
 * schedstat over the idle period) and the DCS request rate from etcd's /metrics counters before and after it.
 */
import { FenceClient, fenceFiles, silentLogger } from '@pgha/core';
import type { TestCluster, TestNode } from '../../test/helpers/cluster.js';
import { testUser } from '../../test/helpers/user.js';
import { etcdRates } from './etcd-rates.js';
import { agentTree, cpuMs, rssMb } from './proctree.js';

export interface IdleNode {
  readonly node: string;
  readonly role: string;
  readonly agentRssMb: number | null;
  readonly helpers: Array<{ name: string; pid: number; rssMb: number | null }>;
  readonly agentCpuPct: number | null;
  readonly helpersCpuPct: number | null;
}

export interface IdleReport {
  readonly seconds: number;
  readonly nodes: IdleNode[];
  /** Unary RPCs completed per second (grpc_server_handled_total). */
  readonly dcsUnaryPerS: number | null;
  /** gRPC messages received per second, stream messages (lease keep-alives, watches) included. */
  readonly dcsMsgsPerS: number | null;
  /** Messages received per second by gRPC method (Range, Put, Txn, LeaseKeepAlive, Watch, ...). */
  readonly dcsByMethod: Record<string, number>;
}

/** The fence and deadman of a node: they run outside the agent's process tree. */
async function detachedHelpers(n: TestNode): Promise<number[]> {
  const f = fenceFiles(n.dataDir, testUser()?.uid);
  const st = await new FenceClient(n.dataDir, silentLogger, f.base, f.log).existing();
  return st ? [st.pid, ...(st.deadman ? [st.deadman] : [])] : [];
}

function treeCpuMs(agentPid: number, detached: number[]): { agent: number | null; helpers: Map<number, number> } {
  const t = agentTree(agentPid, detached);
  return { agent: t.agent ? t.agent.cpuMs : null, helpers: new Map(t.helpers.map((h) => [h.pid, h.cpuMs])) };
}

export async function measureIdle(cluster: TestCluster, seconds: number, roles: Map<string, string>): Promise<IdleReport> {
  const agents = await Promise.all(cluster.nodes.map(async (n) => ({ n, pid: n.proc?.pid ?? -1, detached: await detachedHelpers(n) })));
  const before = agents.map((a) => treeCpuMs(a.pid, a.detached));
  const rates = etcdRates(cluster.etcd);
  const dcs0 = await rates.start();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const dt = (Date.now() - t0) / 1000;
  const dcs = await rates.stop(dcs0);
  const nodes = agents.map(({ n, pid, detached }, i) => {
    const tree = agentTree(pid, detached);
    const b = before[i]!;
    const agentNow = cpuMs(pid);
    const pct = (ms: number) => +((100 * ms) / 1000 / dt).toFixed(3);
    let helperMs = 0;
    let helperSeen = false;
    for (const h of tree.helpers) {
      const was = b.helpers.get(h.pid);
      if (was !== undefined) { helperMs += h.cpuMs - was; helperSeen = true; }
    }
    return {
      node: n.name, role: roles.get(n.name) ?? '?',
      agentRssMb: rssMb(pid),
      helpers: tree.helpers.map((h) => ({ name: h.name, pid: h.pid, rssMb: rssMb(h.pid) })),
      agentCpuPct: agentNow !== null && b.agent !== null ? pct(agentNow - b.agent) : null,
      helpersCpuPct: helperSeen ? pct(helperMs) : null,
    };
  });
  return { seconds: +dt.toFixed(1), nodes, dcsUnaryPerS: dcs.unaryPerS, dcsMsgsPerS: dcs.msgsPerS, dcsByMethod: dcs.byMethod };
}
