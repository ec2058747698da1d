/**
 * What each scenario does to the primary, and how one run is measured: writer and probe from before
 * the disruption until the cluster has settled again (one leader, every other member streaming from
 * it, the old primary rejoined, one writable node). Every wait is bounded; a run that does not
 * settle reports what it saw and marks the cluster broken so the bench starts a fresh one.
 */
import type { TestCluster, TestNode } from '../../test/helpers/cluster.js';
import { waitFor } from '../../test/helpers/procs.js';
import { Probe, Writer, missingIds, TICK_MS } from './load.js';
import type { ScenarioName } from './options.js';
import { agentTree, isStopped, signalAll } from './proctree.js';
import { clusterView, settled } from './settle.js';

export interface Ctx {
  readonly cluster: TestCluster;
  readonly ttl: number;
  readonly loopWait: number;
  readonly holdSeconds: number;
  readonly settleSeconds: number;
  readonly auth: string;
}

/** Disrupt `leader`; returns what brings the old primary's agent back (run once a new primary took writes). */
type Act = (ctx: Ctx, leader: TestNode) => Promise<{ restore?: () => Promise<void>; holdS?: number; note?: string }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exited(n: TestNode, timeoutMs: number): Promise<boolean> {
  const p = n.proc;
  if (!p) return true;
  return Promise.race([p.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
}

const restart = (n: TestNode) => async () => { if (!n.agentAlive()) n.start(); };

export const SCENARIOS: Record<ScenarioName, { label: string; act: Act }> = {
  switchover: {
    label: 'switchover (POST /switchover)',
    async act(ctx, l) {
      const candidate = ctx.cluster.nodes.find((n) => n !== l)!;
      const res = await fetch(`${l.apiUrl}/switchover`, {
        method: 'POST', headers: { authorization: ctx.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ leader: l.name, candidate: candidate.name }), signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      return { note: res.ok ? undefined : `switchover answered ${res.status}: ${text.slice(0, 200)}` };
    },
  },
  sigterm: {
    label: 'graceful stop (SIGTERM agent)',
    async act(_ctx, l) {
      l.signalAgent('SIGTERM');
      const gone = await exited(l, 60_000);
      return { restore: restart(l), holdS: 0, note: gone ? undefined : 'agent still running 60 s after SIGTERM' };
    },
  },
  crash: {
    label: 'crash (SIGKILL agent + postmaster)',
    async act(_ctx, l) {
      const pm = l.postmasterPid();
      signalAll([l.proc!.pid, ...(pm ? [pm] : [])], 'SIGKILL');
      await exited(l, 10_000);
      return { restore: restart(l), holdS: 0, note: pm ? undefined : 'no postmaster PID found' };
    },
  },
  'agent-kill': {
    label: 'agent kill (SIGKILL agent only)',
    async act(ctx, l) {
      l.signalAgent('SIGKILL');
      await exited(l, 10_000);
      return { restore: restart(l), holdS: ctx.holdSeconds };
    },
  },
  'tree-kill': {
    label: 'agent tree kill (agent + non-pg descendants)',
    async act(ctx, l) {
      const tree = agentTree(l.proc!.pid);
      const procs = [tree.agent!, ...tree.helpers];
      const killed = new Set(signalAll(procs.map((p) => p.pid), 'SIGKILL'));
      await exited(l, 10_000);
      const names = procs.filter((p) => killed.has(p.pid)).map((p) => `${p.name}[${p.pid}]`);
      return { restore: restart(l), holdS: ctx.holdSeconds, note: `killed ${names.join(', ')}; spared PostgreSQL ${tree.postgres.map((p) => p.pid).join(', ') || '(none in the tree)'}` };
    },
  },
  freeze: {
    label: 'agent freeze (SIGSTOP tree, ttl+5 s)',
    async act(ctx, l) {
      const tree = agentTree(l.proc!.pid);
      const stopped = signalAll([tree.agent!, ...tree.helpers].map((p) => p.pid), 'SIGSTOP');
      try {
        await waitFor(() => stopped.every((p) => isStopped(p) || !isAlive(p)), 5000, 'the tree to stop', 10).catch(() => undefined);
        await sleep((ctx.ttl + 5) * 1000);
      } finally {
        signalAll(stopped, 'SIGCONT');
      }
      return { note: `froze ${[tree.agent!, ...tree.helpers].filter((p) => stopped.includes(p.pid)).map((p) => `${p.name}[${p.pid}]`).join(', ')}` };
    },
  },
};

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export interface RunResult {
  readonly scenario: ScenarioName;
  readonly run: number;
  readonly ok: boolean;
  readonly oldLeader: string;
  readonly newLeader: string | null;
  readonly gapS: number | null;
  readonly dualWindows: number;
  readonly dualS: number;
  readonly lost: number | null;
  readonly acked: number;
  readonly writerErrors: number;
  readonly settleS: number | null;
  /** From the disruption to the new leader's first acknowledged probe write. */
  readonly failoverS: number | null;
  readonly notes: string[];
}

/**
 * One run of one scenario. Throws only when the cluster is not settled before the disruption; any
 * later failure is reported in `notes` with ok = false.
 */
export async function runScenario(ctx: Ctx, name: ScenarioName, run: number): Promise<RunResult> {
  const { cluster } = ctx;
  const notes: string[] = [];
  const leader = await settled(cluster, 120_000);
  const writer = new Writer(cluster.nodes).start();
  const probe = new Probe(cluster.nodes).start();
  let ok = true;
  let newLeader: string | null = null;
  let settleS: number | null = null;
  let final: TestNode | null = null;
  let t0 = Date.now();
  try {
    await sleep(2000);
    t0 = Date.now();
    const r = await SCENARIOS[name].act(ctx, leader);
    if (r.note) notes.push(r.note);
    // A new primary: the DCS names another leader and the probe saw it take a write.
    const bound = (ctx.ttl * 3 + ctx.loopWait + 60) * 1000;
    newLeader = await waitFor(async () => {
      const v = await clusterView(cluster);
      const l = v?.members.find((m) => m.role === 'leader')?.name;
      return l && l !== leader.name && probe.wrote(l, t0) ? l : null;
    }, bound, 'a new primary taking writes', 200).catch(() => null);
    if (!newLeader) notes.push(`no new primary took writes within ${bound / 1000} s`);
    if (r.restore) {
      if (newLeader && r.holdS) await sleep(r.holdS * 1000);
      await r.restore();
    }
    const tSettle = Date.now();
    try {
      final = await settled(cluster, ctx.settleSeconds * 1000, leader.name);
      settleS = (Date.now() - tSettle) / 1000;
    } catch (e) {
      ok = false;
      notes.push(`not settled: ${(e as Error).message.slice(0, 300)}`);
      notes.push(`cluster view: ${JSON.stringify((await clusterView(cluster))?.members ?? null)}`);
    }
    await sleep(1000);
  } catch (e) {
    ok = false;
    notes.push(`failed: ${(e as Error).message.slice(0, 300)}`);
  } finally {
    await writer.stop();
    await probe.stop();
  }
  const dual = probe.dualWindows();
  if (dual.length) notes.push(`two writable primaries from ${new Date(dual[0]!.t).toISOString()} to ${new Date(dual.at(-1)!.t + TICK_MS).toISOString()} (${dual[0]!.nodes.join('+')})`);
  let lost: number | null = null;
  const target = final ?? (newLeader ? cluster.node(newLeader) : null);
  if (target) {
    try {
      const missing = await missingIds(target, writer.acked);
      lost = missing.length;
      if (missing.length) {
        const byNode = new Map<string, number>();
        const gone = new Set(missing);
        for (const a of writer.acked) if (gone.has(a.id)) byNode.set(a.node, (byNode.get(a.node) ?? 0) + 1);
        notes.push(`lost writes by node they were acknowledged on: ${JSON.stringify(Object.fromEntries(byNode))}`);
      }
    } catch (e) {
      notes.push(`lost-write check failed on ${target.name}: ${(e as Error).message}`);
    }
  }
  const gap = writer.maxGap();
  const firstNew = newLeader ? probe.firstWrite(newLeader, t0) : null;
  return {
    scenario: name, run, ok, oldLeader: leader.name, newLeader: final?.name ?? newLeader,
    gapS: gap.ms / 1000, dualWindows: dual.length, dualS: (dual.length * TICK_MS) / 1000, lost,
    acked: writer.acked.length, writerErrors: writer.errors, settleS,
    failoverS: firstNew === null ? null : Math.max(0, firstNew - t0) / 1000, notes,
  };
}
