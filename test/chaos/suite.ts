/**
 * The chaos suite: a 3-node pgha cluster (PostgreSQL 15, etcd3 or Raft) in synchronous or quorum
 * mode, a writer acknowledging commits on the leader, a probe asking every node for a commit every
 * 100 ms, and a seeded sequence of faults. After each fault: never two nodes acknowledging commits
 * in the same sample; every acknowledged write on the healed leader; healthy within ttl + 30 s.
 */
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { startEtcd } from '../helpers/etcd.js';
import { Rng } from '../fuzz/rng.js';
import { FAULT_KINDS, faultKinds, planFault, runFault, type FaultKind, type FaultPlan } from './faults.js';
import { startDcsPartition } from './partition.js';
import { inNamespace, nodeIndex, type NodeNetworks } from '../helpers/netns.js';
import { createProbeTable, dualWindows, startProbe } from './probe.js';
import { createLedger, missingWrites, startWriter } from './writer.js';

export interface ChaosOptions {
  readonly faults: number;
  readonly mode: 'on' | 'quorum';
  readonly dcs: 'etcd3' | 'raft';
  readonly seed: number;
  /** Draw only these fault kinds (default: every kind the DCS allows). */
  readonly kinds?: readonly FaultKind[];
  /** Stop starting new faults after this many minutes (the running one finishes). */
  readonly minutes?: number;
  readonly log?: (line: string) => void;
  /** Each node in its own network namespace (this process runs in the hub): real partitions, `peer-partition`. */
  readonly net?: NodeNetworks;
  /** Checked before each fault: true ends the run cleanly. */
  readonly shouldStop?: () => boolean;
}

export interface KindStats { count: number; worstRecoveryMs: number; lostWrites: number; dualWindows: number; failures: number }

export interface ChaosFailure { readonly index: number; readonly plan: FaultPlan; readonly what: string }

export interface ChaosResult {
  readonly options: ChaosOptions;
  readonly stats: Record<FaultKind, KindStats>;
  readonly failures: ChaosFailure[];
  readonly faultsRun: number;
  readonly ackedWrites: number;
  readonly elapsedMs: number;
}

export const TTL = 20;
const HEALTHY_WITHIN_MS = (TTL + 30) * 1000;

/**
 * The leader once healthy: it holds the lock, /primary answers 200, both replicas stream and
 * synchronous replication is back (a sync or quorum standby in `/sync`); null after the bound.
 */
async function healthyLeader(cluster: TestCluster, timeoutMs: number): Promise<TestNode | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const leader = left > 0 ? await cluster.waitHealthy(2, left).catch(() => null) : null;
    if (!leader) return null;
    const roles = await leader.get('/cluster').then((r) => (r.body.members as Array<{ role: string }>).map((m) => m.role), () => [] as string[]);
    if (roles.some((r) => r === 'sync_standby' || r === 'quorum_standby')) return leader;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const rng = new Rng(o.seed);
  const raft = o.dcs === 'raft';
  const net = o.net;
  const etcd = raft ? undefined : await startEtcd({ members: 3, ...(net ? { host: net.hubAddr } : {}) });
  // Without namespaces every node reaches etcd through its own proxies, so one node can be cut off
  // from the DCS alone; with them the hub cuts the node's packets.
  const names = ['node1', 'node2', 'node3'];
  const partition = etcd && !net ? await startDcsPartition(names, etcd.endpoints) : undefined;
  const cluster = await TestCluster.start({
    nodes: names.length,
    dcs: raft ? { kind: 'raft' } : { kind: 'etcd3', etcd },
    ...(partition ? { etcdHostsFor: (name: string) => partition.hostsFor(name) } : {}),
    ...(net ? { hostFor: (name: string) => net.addr(nodeIndex(name)), wrapFor: (name: string) => inNamespace(net.ns(nodeIndex(name))), peerNet: net.subnet } : {}),
    dynamic: { ttl: TTL, loop_wait: 1, retry_timeout: 5, synchronous_mode: o.mode === 'quorum' ? 'quorum' : true, maximum_lag_on_failover: 1 << 30 },
    local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }),
  }).catch(async (e: unknown) => {
    await partition?.close().catch(() => undefined);
    await etcd?.stop().catch(() => undefined);
    throw e;
  });
  const stats = Object.fromEntries(FAULT_KINDS.map((k) => [k, { count: 0, worstRecoveryMs: 0, lostWrites: 0, dualWindows: 0, failures: 0 }])) as Record<FaultKind, KindStats>;
  const failures: ChaosFailure[] = [];
  let faultsRun = 0;
  let ackedWrites = 0;
  try {
    let leader = (await healthyLeader(cluster, 180_000)) ?? (await cluster.waitHealthy(2, 1000));
    await createLedger(leader);
    await createProbeTable(leader);
    const writer = startWriter(cluster, { intervalMs: 20 });
    const probe = startProbe(cluster);
    try {
      for (let i = 0; i < o.faults; i++) {
        if ((o.minutes && Date.now() - started > o.minutes * 60_000) || o.shouldStop?.()) break;
        const plan = planFault(rng, raft, o.kinds, !!net);
        const t0 = Date.now();
        const note = await runFault({ cluster, raft, log, partition, net, samples: probe.samples }, plan, leader).catch((e: unknown) => `fault error: ${String(e)}`);
        const healed = Date.now();
        const next = await healthyLeader(cluster, HEALTHY_WITHIN_MS);
        const recovery = Date.now() - healed;
        const s = stats[plan.kind];
        s.count += 1;
        faultsRun += 1;
        s.worstRecoveryMs = Math.max(s.worstRecoveryMs, recovery);
        const fail = (what: string) => {
          s.failures += 1;
          failures.push({ index: i, plan, what });
          log(`FAIL fault #${i} ${plan.kind} (seed ${o.seed}): ${what}`);
        };
        const dual = dualWindows(probe.samples, t0, Date.now());
        s.dualWindows += dual.length;
        if (dual.length) fail(`two nodes acknowledged commits: ${JSON.stringify(dual.slice(0, 3))}`);
        if (!next) {
          fail(`not healthy within ttl + 30 s (logs: ${cluster.root})`);
          break;
        }
        leader = next;
        await writer.pause();
        // A connection can break while a fault settles: retry the read a few times before giving up.
        let missing: number[] = [];
        for (let attempt = 1; ; attempt++) {
          try {
            missing = await missingWrites(leader, writer.acked);
            break;
          } catch (e) {
            if (attempt >= 5) {
              fail(`cannot read the ledger on ${leader.name}: ${String(e)}`);
              break;
            }
            await new Promise((r) => setTimeout(r, 2000));
            leader = (await healthyLeader(cluster, 10_000)) ?? leader;
          }
        }
        writer.resume();
        s.lostWrites += missing.length;
        if (missing.length) fail(`${missing.length} acknowledged writes missing on ${leader.name}: ${missing.slice(0, 10).join(',')}`);
        log(`#${i} ${plan.kind} ${plan.role}${plan.role === 'primary' ? '' : plan.index}: ${note}; healthy after ${(recovery / 1000).toFixed(1)} s, leader ${leader.name}, acked ${writer.acked.size}`);
        // Keep the probe's memory bounded: only the current fault's window is ever read.
        probe.samples.splice(0, Math.max(0, probe.samples.length - 2000));
        if (failures.length && !o.minutes && failures.length >= 3) break;
      }
    } finally {
      await writer.stop();
      await probe.stop();
      ackedWrites = writer.acked.size;
    }
  } finally {
    // Keep the logs of a failed run (the failure line names the directory).
    if (failures.length) process.env.PGHA_KEEP_TEST_DIRS = '1';
    await cluster.stop().catch(() => undefined);
    await partition?.close().catch(() => undefined);
    await etcd?.stop().catch(() => undefined);
  }
  return { options: o, stats, failures, faultsRun, ackedWrites, elapsedMs: Date.now() - started };
}

/** The per-fault-kind table. */
export function formatChaos(r: ChaosResult): string {
  const head = ['fault', 'count', 'worst recovery (s)', 'lost writes', 'dual-primary windows', 'failures'];
  const rows = faultKinds(r.options.dcs === 'raft', r.options.kinds, !!r.options.net).map((k) => {
    const s = r.stats[k];
    return [k, String(s.count), (s.worstRecoveryMs / 1000).toFixed(1), String(s.lostWrites), String(s.dualWindows), String(s.failures)];
  });
  const total = Object.values(r.stats).reduce((a, s) => ({ count: a.count + s.count, worst: Math.max(a.worst, s.worstRecoveryMs), lost: a.lost + s.lostWrites, dual: a.dual + s.dualWindows, fail: a.fail + s.failures }), { count: 0, worst: 0, lost: 0, dual: 0, fail: 0 });
  rows.push(['total', String(total.count), (total.worst / 1000).toFixed(1), String(total.lost), String(total.dual), String(total.fail)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const { mode, dcs, seed } = r.options;
  const out = [
    `chaos: mode ${mode}, dcs ${dcs}${r.options.net ? ', nodes in network namespaces' : ''}, seed ${seed}: ${r.faultsRun} faults, ${r.ackedWrites} acknowledged writes, ${(r.elapsedMs / 60_000).toFixed(1)} min`,
    line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line),
  ];
  for (const f of r.failures) out.push(`FAILED: fault #${f.index} ${f.plan.kind} on ${f.plan.role}: ${f.what} — reproduce with --seed ${seed}`);
  return out.join('\n');
}
