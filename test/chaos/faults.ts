/**
 * The chaos suite's faults: each one picks its victim by role (so a seed means the same story on
 * any run), breaks it, and heals it (resume, restart). Processes are signalled by PID only.
 */
import { readFileSync } from 'node:fs';
import type { TestCluster, TestNode } from '../helpers/cluster.js';
import { isAlive, waitFor } from '../helpers/procs.js';
import { descendants, nonPostgresTree, signalAll } from '../helpers/tree.js';
import type { Rng } from '../fuzz/rng.js';
import { nodeIndex, type NodeNetworks } from '../helpers/netns.js';
import type { DcsPartition } from './partition.js';
import type { Sample } from './probe.js';

export const FAULT_KINDS = [
  'agent-kill', 'agent-stop', 'tree-kill', 'tree-stop', 'postmaster-kill', 'postmaster-stop',
  'node-kill', 'node-stop', 'dcs-kill', 'dcs-stop', 'dcs-partition', 'switchover', 'peer-partition',
] as const;
/** Kinds only etcd3 runs have: the Raft members live in the agents, partitions need the DCS proxies. */
const ETCD3_ONLY: readonly FaultKind[] = ['dcs-partition'];
/** Kinds that need each node in its own network namespace (`--netns`, root). */
const NETNS_ONLY: readonly FaultKind[] = ['peer-partition'];
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  readonly kind: FaultKind;
  /** The victim's role when the fault starts ('dcs' for a DCS member, by index). */
  readonly role: 'primary' | 'replica' | 'dcs';
  /** Which replica (0/1 in name order) or DCS member. */
  readonly index: number;
  /** How long a stopped process stays stopped, or a killed one stays down (ms). */
  readonly holdMs: number;
}

/**
 * The kinds a run draws from: `only` (all when absent), without the etcd3-only kinds on Raft and
 * the namespace-only kinds without namespaces (so a seed tells the same story as before they existed).
 */
export function faultKinds(raft: boolean, only?: readonly FaultKind[], netns = false): FaultKind[] {
  return FAULT_KINDS.filter((k) => (!only || only.includes(k)) && !(raft && ETCD3_ONLY.includes(k)) && (netns || !NETNS_ONLY.includes(k)));
}

/**
 * The seeded story: kinds evenly spread, primaries hit more often than replicas. A Raft run draws
 * from the same kinds, in the same order, as before partitions existed, so its seeds tell the same story.
 */
export function planFault(rng: Rng, raft: boolean, only?: readonly FaultKind[], netns = false): FaultPlan {
  const kinds = faultKinds(raft, only, netns);
  if (!kinds.length) throw new Error(`no fault kind to run${raft ? ' on raft' : ''}${netns ? '' : ' without --netns'} among ${only?.join(',')}`);
  const kind = rng.pick(kinds);
  const stop = kind.endsWith('-stop');
  // Long enough, often, for the leader key (ttl 20 s) to expire: failovers, not only restarts. A
  // partition is held at least retry_timeout (5 s), so the victim always loses the DCS for good.
  const holdMs = kind.endsWith('-partition') ? rng.int(5, 35) * 1000 : stop ? rng.int(2, 28) * 1000 : rng.int(1, 35) * 1000;
  if (kind.startsWith('dcs-') && kind !== 'dcs-partition' && !raft) return { kind, role: 'dcs', index: rng.int(0, 2), holdMs };
  return { kind, role: rng.chance(0.6) ? 'primary' : 'replica', index: rng.int(0, 1), holdMs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a node's agent again; a failed spawn is reported by the health check, not thrown later. */
function restart(n: TestNode, log: (l: string) => void): void {
  n.proc = null;
  n.start();
  n.proc?.child.on('error', (e) => log(`${n.name}: agent restart failed: ${String(e)}`));
}

function isStopped(pid: number): boolean {
  try {
    return / T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\) /, ' '));
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[]): Promise<void> {
  await waitFor(() => pids.every((p) => !isAlive(p)) || null, 15_000, `processes ${pids.join(',')} to exit`, 20).catch(() => undefined);
}

/** Every PostgreSQL process of a node: the postmaster and its children. */
function postgresOf(n: TestNode): number[] {
  const pm = n.postmasterPid();
  return pm ? descendants(pm) : [];
}

export interface FaultContext {
  readonly cluster: TestCluster;
  readonly raft: boolean;
  readonly log: (line: string) => void;
  /** The per-node DCS proxies (etcd3 runs without namespaces): what a `dcs-partition` cuts. */
  readonly partition?: DcsPartition;
  /** Per-node network namespaces (`--netns`): partitions are cut there. */
  readonly net?: NodeNetworks;
  /** The probe's samples, to say when the victim stopped and another node started acknowledging. */
  readonly samples?: readonly Sample[];
}

/** The victim node for a plan, given the current leader. */
export function victim(cluster: TestCluster, leader: TestNode, plan: FaultPlan): TestNode {
  if (plan.role === 'primary') return leader;
  const replicas = cluster.nodes.filter((n) => n !== leader).sort((a, b) => a.name.localeCompare(b.name));
  return replicas[plan.index % replicas.length]!;
}

/** Break, hold, heal. Returns a note for the log (e.g. the switchover's answer). */
export async function runFault(ctx: FaultContext, plan: FaultPlan, leader: TestNode): Promise<string> {
  const { cluster } = ctx;
  const n = victim(cluster, leader, plan);
  const agent = n.proc?.pid;
  switch (plan.kind) {
    case 'agent-kill':
    case 'tree-kill':
    case 'node-kill': {
      if (!agent) return 'no agent';
      const pids = plan.kind === 'agent-kill' ? [agent] : plan.kind === 'tree-kill' ? nonPostgresTree(agent) : [...descendants(agent), ...postgresOf(n)];
      signalAll(pids, 'SIGKILL');
      await n.proc!.exited;
      if (plan.kind === 'node-kill') await waitGone(pids);
      await sleep(plan.holdMs);
      restart(n, ctx.log);
      return `${n.name}: ${pids.length} processes killed`;
    }
    case 'agent-stop':
    case 'tree-stop':
    case 'node-stop': {
      if (!agent) return 'no agent';
      const pids = plan.kind === 'agent-stop' ? [agent] : plan.kind === 'tree-stop' ? nonPostgresTree(agent) : [...new Set([...descendants(agent), ...postgresOf(n)])];
      signalAll(pids, 'SIGSTOP');
      await sleep(plan.holdMs);
      signalAll(pids, 'SIGCONT');
      return `${n.name}: ${pids.length} processes stopped for ${plan.holdMs} ms`;
    }
    case 'postmaster-kill': {
      const pm = n.postmasterPid();
      if (!pm) return 'no postmaster';
      process.kill(pm, 'SIGKILL');
      return `${n.name}: postmaster ${pm} killed`;
    }
    case 'postmaster-stop': {
      const pm = n.postmasterPid();
      if (!pm) return 'no postmaster';
      process.kill(pm, 'SIGSTOP');
      await waitFor(() => isStopped(pm) || !isAlive(pm) || null, 5000, 'postmaster stopped', 10).catch(() => undefined);
      await sleep(plan.holdMs);
      try { process.kill(pm, 'SIGCONT'); } catch { /* gone (the fence may have ended it) */ }
      return `${n.name}: postmaster ${pm} stopped for ${plan.holdMs} ms`;
    }
    case 'dcs-kill':
    case 'dcs-stop': {
      if (ctx.raft) {
        // The Raft member lives in the agent: its DCS member fails with it.
        const a = n.proc?.pid;
        if (!a) return 'no agent';
        if (plan.kind === 'dcs-kill') {
          process.kill(a, 'SIGKILL');
          await n.proc!.exited;
          await sleep(plan.holdMs);
          restart(n, ctx.log);
        } else {
          process.kill(a, 'SIGSTOP');
          await sleep(plan.holdMs);
          process.kill(a, 'SIGCONT');
        }
        return `${n.name}: raft member (agent) ${plan.kind === 'dcs-kill' ? 'killed' : 'stopped'}`;
      }
      const etcd = cluster.etcd;
      if (plan.kind === 'dcs-kill') {
        await etcd.kill(plan.index);
        await sleep(plan.holdMs);
        await etcd.restart(plan.index);
      } else {
        await etcd.freeze(plan.index, true);
        await sleep(plan.holdMs);
        await etcd.freeze(plan.index, false);
      }
      await etcd.waitHealthy(30_000).catch(() => undefined);
      return `etcd${plan.index} ${plan.kind === 'dcs-kill' ? 'killed' : 'stopped'} for ${plan.holdMs} ms`;
    }
    case 'dcs-partition':
    case 'peer-partition': {
      const dcs = plan.kind === 'dcs-partition';
      const index = nodeIndex(n.name);
      const cut = ctx.net ? () => (dcs ? ctx.net!.cutDcs(index) : ctx.net!.cutPeers(index)) : dcs && ctx.partition ? () => ctx.partition!.partition(n.name) : null;
      const heal = ctx.net ? () => ctx.net!.heal(index) : () => ctx.partition?.heal(n.name);
      if (!cut) return dcs ? 'no DCS proxies (etcd3 only)' : 'no network namespaces (--netns)';
      const t0 = Date.now();
      cut();
      try {
        await sleep(plan.holdMs);
      } finally {
        heal();
      }
      return `${n.name} cut off from ${dcs ? 'the DCS' : 'the other nodes'} for ${plan.holdMs} ms${partitionTimeline(ctx.samples, n.name, t0, Date.now())}`;
    }
    case 'switchover': {
      const r = await leader.get('/switchover', { method: 'POST', body: JSON.stringify({ leader: leader.name }), headers: { 'content-type': 'application/json' } })
        .catch((e: unknown) => ({ status: 0, body: String(e) }));
      return `switchover from ${leader.name}: ${r.status} ${String(r.body).slice(0, 120)}`;
    }
  }
}

/**
 * What the probe saw while a node was cut off: when the victim last acknowledged a commit and when
 * another node first did (seconds after the cut), the orphan-primary story in one line.
 */
function partitionTimeline(samples: readonly Sample[] | undefined, victimName: string, from: number, to: number): string {
  if (!samples) return '';
  let lastVictim: number | null = null;
  let firstOther: { t: number; name: string } | null = null;
  for (const s of samples) {
    if (s.t < from || s.t > to) continue;
    if (s.writable.includes(victimName)) lastVictim = s.t;
    const other = s.writable.find((w) => w !== victimName);
    if (other && !firstOther) firstOther = { t: s.t, name: other };
  }
  const at = (t: number) => `+${((t - from) / 1000).toFixed(1)} s`;
  return `; ${victimName} last acknowledged ${lastVictim === null ? 'never' : at(lastVictim)}, ` +
    `${firstOther ? `${firstOther.name} first ${at(firstOther.t)}` : 'no other node acknowledged'} (probe, during the cut)`;
}
