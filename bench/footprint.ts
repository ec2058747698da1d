/**
 * npm run bench:footprint [-- --idle 30 --settle 10 --loop-wait 2 --runs 1 --systems pgha,patroni]
 *
 * pgha and Debian's Patroni 3.0.2 side by side on the same settings (3 nodes, one etcd 3.4 each,
 * ttl 20, loop_wait 2, retry_timeout 9, PostgreSQL 15): time from starting the three agents to a
 * leader with two streaming replicas, then per node over an idle period the RSS of the agent and of
 * every helper it runs (pgha: the fence and the deadman, outside the agent's tree; PostgreSQL
 * excluded), CPU % (time on a CPU, from schedstat), the CPU % of the PostgreSQL backends serving
 * the agent's own connections (found by application_name), and etcd's request rate. Beside pgha runs the
 * floor (bench/lib/floor-process.mjs): the same libraries doing only the query, renewal and log line
 * a primary cannot skip, so the table shows how much of the agent's CPU is its own. Prints figures, asserts nothing.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { PatroniNode, patroniConfig, requirePatroni } from '../test/consul/patroni.js';
import { launchOf } from '../cli/src/node-flags.js';
import { CLI, SUPERUSER, TestCluster } from '../test/helpers/cluster.js';
import { startEtcd, type EtcdCluster } from '../test/helpers/etcd.js';
import { freePort } from '../test/helpers/ports.js';
import { isAlive, waitFor } from '../test/helpers/procs.js';
import { testUser, userTempDir } from '../test/helpers/user.js';
import { etcdRates, type EtcdRates } from './lib/etcd-rates.js';
import { measureIdle } from './lib/idle.js';
import { agentBackends, backendsCpu, backendsPct } from './lib/backends.js';
import { agentTree, cpuMs, pssMb, rssMb } from './lib/proctree.js';

process.env.VITEST_POOL_ID = process.env.BENCH_PORT_POOL ?? '25';
const { values } = parseArgs({ options: { idle: { type: 'string' }, 'loop-wait': { type: 'string' }, runs: { type: 'string' }, settle: { type: 'string' }, systems: { type: 'string' } } });
/** `--systems pgha` (or `patroni`) runs one side only, e.g. to compare two builds of pgha in one period. */
const SYSTEMS = new Set((values.systems ?? 'pgha,patroni').split(','));
const IDLE = Number(values.idle ?? 30);
const LOOP_WAIT = Number(values['loop-wait'] ?? 2);
const RUNS = Number(values.runs ?? 1);
/** Seconds between healthy and the idle period: 10 s catches the first minute (first checkpoints,
 * slots, member keys, V8 compiling each code path on its first use); 60 s or more shows steady state. */
const SETTLE = Number(values.settle ?? 10);
const DYNAMIC = { ttl: 20, loop_wait: LOOP_WAIT, retry_timeout: Math.min(10, Math.floor((20 - LOOP_WAIT) / 2)) };

interface Figures {
  system: string; bootstrapS: number; perNode: Array<{ node: string; agentMb: number; agentPssMb: number; helpersMb: number; cpuPct: number; helpersCpuPct: number; backendPct: number }>; etcd: EtcdRates | null;
  /** bench/lib/floor-process.mjs over the same idle period: CPU % and RSS MB. */
  floor?: { cpuPct: number; rssMb: number };
}

/**
 * The floor process (bench/lib/floor-process.mjs) beside the cluster from healthy on, with an etcd of
 * its own so that the cluster's request counts stay the agents' own.
 */
async function startFloor(pgPort: number): Promise<{ pid: number; stop: () => Promise<void> }> {
  const etcd = await startEtcd();
  const dir = userTempDir('floor');
  // With the agent's own Node flags and environment (its command file's #! line).
  const launch = launchOf(CLI);
  const proc = spawn(process.execPath, [...launch.flags, join(import.meta.dirname, 'lib', 'floor-process.mjs'), String(pgPort), etcd.endpoints[0]!.replace(/^https?:\/\//, ''), String(LOOP_WAIT), join(dir, 'floor.log')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...launch.env, PGUSER: SUPERUSER.username, PGPASSWORD: SUPERUSER.password } });
  const exited = new Promise((r) => proc.once('exit', r));
  return {
    pid: proc.pid!,
    stop: async () => {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgha(etcd: EtcdCluster): Promise<Figures> {
  const t0 = performance.now();
  const cluster = await TestCluster.start({ nodes: 3, dcs: { kind: 'etcd3', etcd }, dynamic: DYNAMIC, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
  try {
    const leader = await cluster.waitHealthy(2, 120_000);
    const bootstrapS = (performance.now() - t0) / 1000;
    const floor = await startFloor(leader.pgPort);
    let floorCpu: { cpuPct: number; rssMb: number };
    let idle: Awaited<ReturnType<typeof measureIdle>>;
    let backendPct: number[];
    try {
      await new Promise((r) => setTimeout(r, SETTLE * 1000));
      const f0 = cpuMs(floor.pid) ?? NaN;
      const backends = await Promise.all(cluster.nodes.map((n) => agentBackends(n.pgPort, 'pgha')));
      const b0 = backends.map(backendsCpu);
      const s0 = performance.now();
      idle = await measureIdle(cluster, IDLE, new Map());
      backendPct = backends.map((pids, i) => backendsPct(b0[i]!, backendsCpu(pids), (performance.now() - s0) / 1000));
      floorCpu = { cpuPct: (100 * ((cpuMs(floor.pid) ?? NaN) - f0)) / (performance.now() - s0), rssMb: rssMb(floor.pid) ?? NaN };
    } finally {
      await floor.stop();
    }
    return {
      system: 'pgha', bootstrapS, floor: floorCpu, etcd: { unaryPerS: idle.dcsUnaryPerS, msgsPerS: idle.dcsMsgsPerS, byMethod: idle.dcsByMethod },
      perNode: idle.nodes.map((n, i) => ({ node: n.node, agentMb: n.agentRssMb ?? NaN, agentPssMb: pssMb(cluster.nodes[i]!.proc!.pid) ?? NaN, helpersMb: n.helpers.reduce((s, h) => s + (h.rssMb ?? 0), 0), cpuPct: (n.agentCpuPct ?? 0) + (n.helpersCpuPct ?? 0), helpersCpuPct: n.helpersCpuPct ?? 0, backendPct: backendPct[i]! })),
    };
  } finally {
    await cluster.stop();
  }
}

async function patroni(etcd: EtcdCluster): Promise<Figures> {
  requirePatroni();
  const root = userTempDir('patroni-bench');
  const scope = `bench${process.pid}`;
  const nodes: PatroniNode[] = [];
  for (let i = 1; i <= 3; i++) {
    const name = `patroni${i}`;
    const dir = join(root, name);
    mkdirSync(dir);
    const [apiPort, pgPort] = [await freePort(), await freePort()];
    const config = patroniConfig({ scope, name, dir, apiPort, pgPort, consulHost: '' }) as Record<string, any>;
    delete config.consul;
    config.etcd3 = { hosts: etcd.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',') };
    config.bootstrap.dcs = { ...config.bootstrap.dcs, ...DYNAMIC };
    const configPath = join(dir, 'patroni.yml');
    writeFileSync(configPath, stringify(config));
    const u = testUser();
    if (u) for (const p of [dir, configPath]) chownSync(p, u.uid, u.gid);
    nodes.push(new PatroniNode(name, dir, configPath, apiPort, pgPort));
  }
  const t0 = performance.now();
  for (const n of nodes) n.start();
  try {
    await waitFor(async () => {
      for (const n of nodes) {
        const st = await n.api('/patroni').catch(() => null);
        const repl = st?.body?.replication as Array<{ state?: string }> | undefined;
        if (st?.body?.role === 'master' || st?.body?.role === 'primary') return (repl ?? []).filter((r) => r.state === 'streaming').length >= 2 || null;
      }
      return null;
    }, 120_000, 'a Patroni leader with two streaming replicas', 50);
    const bootstrapS = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, SETTLE * 1000));
    const pids = nodes.map((n) => n.proc!.pid);
    const used = (pid: number) => [pid, ...agentTree(pid).helpers.map((h) => h.pid)].reduce((s, p) => s + (cpuMs(p) ?? 0), 0);
    const before = pids.map(used);
    const backends = await Promise.all(nodes.map((n) => agentBackends(n.pgPort, 'Patroni%')));
    const b0 = backends.map(backendsCpu);
    const rates = etcdRates(etcd);
    const r0 = await rates.start();
    const s0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE * 1000));
    const dt = (performance.now() - s0) / 1000;
    const b1 = backends.map(backendsCpu);
    return {
      system: 'Patroni 3.0.2', bootstrapS, etcd: await rates.stop(r0),
      perNode: nodes.map((n, i) => ({
        node: n.name, agentMb: rssMb(pids[i]!) ?? NaN, agentPssMb: pssMb(pids[i]!) ?? NaN,
        helpersMb: agentTree(pids[i]!).helpers.reduce((s, h) => s + (rssMb(h.pid) ?? 0), 0),
        cpuPct: (100 * (used(pids[i]!) - before[i]!)) / 1000 / dt,
        helpersCpuPct: 0,
        backendPct: backendsPct(b0[i]!, b1[i]!, dt),
      })),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.proc?.stop(30_000)));
    for (const n of nodes) {
      const pid = n.postmasterPid();
      if (pid) {
        try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
        await waitFor(() => !isAlive(pid), 10_000, `postmaster ${pid}`).catch(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function report(all: Figures[]): void {
  console.log(`\n3 nodes, etcd 3.4, ttl 20, loop_wait ${LOOP_WAIT}, ${IDLE} s idle from ${SETTLE} s after healthy (per node: agent + helpers; PostgreSQL excluded but for the backends of the agent's own connections, in their column)`);
  console.log('| system | bootstrap to healthy s | agent RSS MB (per node) | agent PSS MB (per node) | helpers RSS MB (per node) | agent+helpers CPU % (per node; helpers in brackets) | CPU % of the agent\'s PostgreSQL backends (per node) | etcd unary RPC/s | etcd msgs/s | by method |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const f of all) {
    const col = (g: (n: Figures['perNode'][number]) => number, d: number) => f.perNode.map((n) => g(n).toFixed(d)).join(' / ');
    const by = f.etcd ? Object.entries(f.etcd.byMethod).map(([m, v]) => `${m} ${v}`).join(', ') : 'n/a';
    console.log(`| ${f.system} | ${f.bootstrapS.toFixed(1)} | ${col((n) => n.agentMb, 1)} | ${col((n) => n.agentPssMb, 1)} | ${col((n) => n.helpersMb, 1)} | ${f.perNode.map((n) => `${n.cpuPct.toFixed(3)} (${n.helpersCpuPct.toFixed(3)})`).join(' / ')} | ${col((n) => n.backendPct, 3)} | ${f.etcd?.unaryPerS ?? 'n/a'} | ${f.etcd?.msgsPerS ?? 'n/a'} | ${by} |`);
    if (f.floor) console.log(`| floor (bench/lib/floor-process.mjs) | – | ${f.floor.rssMb.toFixed(1)} | – | – | ${f.floor.cpuPct.toFixed(3)} | – | – | – | one monitoring query, one lease keep-alive and one log line per loop_wait, nothing else |`);
  }
}

const results: Figures[] = [];
for (let run = 1; run <= RUNS; run++) {
  for (const [label, fn] of [['pgha', pgha], ['patroni', patroni]] as const) {
    if (!SYSTEMS.has(label)) continue;
    const etcd = await startEtcd();
    try {
      console.log(`[run ${run}] ${label}...`);
      results.push(await fn(etcd));
    } catch (e) {
      console.log(`[run ${run}] ${label} failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await etcd.stop();
    }
  }
}
report(results);
