/**
 * npm run bench:failover [-- --loop-wait 2,10 --runs 3 --scenarios tree-kill,freeze]
 *
 * Prints figures, asserts nothing. For each loop_wait: a fresh 3-node cluster (etcd 3.4, real
 * PostgreSQL 15, agents as the unprivileged user, ttl 20, retry_timeout by Patroni's rule, watchdog
 * off, safety_margin 5), its idle cost, then every scenario N times. During each run a writer inserts
 * every 10 ms into whichever node accepts writes and a probe tries a write on every node every 100 ms;
 * reported: the longest gap between acknowledged writes, 100 ms windows in which two nodes accepted a
 * write, and acknowledged writes (from the first) missing from the final primary once settled.
 * Options: bench/lib/options.ts. Every process is started by the test harness and stopped by PID.
 */
import { TestCluster } from '../test/helpers/cluster.js';
import { measureIdle } from './lib/idle.js';
import { createTables } from './lib/load.js';
import { parseOptions, type BenchOptions } from './lib/options.js';
import { idleTable, runLine, scenarioTable } from './lib/report.js';
import { runScenario, type Ctx, type RunResult } from './lib/scenarios.js';
import { clusterView, settled } from './lib/settle.js';

const AUTH = { username: 'admin', password: 'bench' };

// Ports come from test/helpers/ports.ts, whose range is chosen by VITEST_POOL_ID (1 outside vitest, the
// range other developers' test runs use too). A killed agent leaves its REST port free for seconds, and
// another run taking it makes the restarted agent exit with EADDRINUSE: the bench takes a range of its
// own, below the kernel's ephemeral ports (32768+).
process.env.VITEST_POOL_ID = process.env.BENCH_PORT_POOL ?? '27';
let current: TestCluster | null = null;

async function startCluster(o: BenchOptions, loopWait: number): Promise<TestCluster> {
  const cluster = await TestCluster.start({
    nodes: 3, restapiAuth: AUTH,
    dynamic: { ttl: o.ttl, loop_wait: loopWait, retry_timeout: o.retryTimeout(loopWait) },
    local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }),
  });
  current = cluster;
  try {
    await createTables(await settled(cluster, 180_000));
  } catch (e) {
    console.log(`cluster did not come up (logs: ${cluster.root}): ${(e as Error).message}`);
    await stopCluster();
    throw e;
  }
  return cluster;
}

async function stopCluster(): Promise<void> {
  const c = current;
  current = null;
  if (!c) return;
  // Never leave a process stopped behind: thaw every agent before stopping it.
  for (const n of c.nodes) try { if (n.proc) process.kill(n.proc.pid, 'SIGCONT'); } catch { /* gone */ }
  await c.stop().catch((e) => console.log(`cluster stop: ${(e as Error).message}`));
}

/** The last lines worth reading: repeated "no action" lines are counted, not printed. */
function logTail(log: string): string {
  const lines = log.trimEnd().split('\n').slice(-400);
  const quiet = lines.filter((l) => / no action\. /.test(l));
  const rest = lines.filter((l) => !/ no action\. /.test(l)).slice(-15);
  return [...rest, ...(quiet.length ? [`(${quiet.length} "no action" lines in the last ${lines.length}, the last: ${quiet.at(-1)})`] : [])].join('\n    ');
}

async function benchLoopWait(o: BenchOptions, loopWait: number): Promise<void> {
  const rt = o.retryTimeout(loopWait);
  console.log(`\n=== loop_wait ${loopWait}, ttl ${o.ttl}, retry_timeout ${rt}, safety_margin 5, ${o.runs} run(s) of ${o.scenarios.join(', ')} ===`);
  let cluster = await startCluster(o, loopWait);
  const ctx = (): Ctx => ({ cluster, ttl: o.ttl, loopWait, holdSeconds: o.holdSeconds, settleSeconds: o.settleSeconds, auth: 'Basic ' + Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64') });
  if (o.idleSeconds > 0) {
    await settled(cluster, 120_000);
    await new Promise((r) => setTimeout(r, 3000)); // let start-up work finish
    const view = await clusterView(cluster);
    const roles = new Map((view?.members ?? []).map((m) => [m.name, m.role]));
    console.log(`idle for ${o.idleSeconds} s...`);
    console.log(idleTable(await measureIdle(cluster, o.idleSeconds, roles)));
  }
  const results: RunResult[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const s of o.scenarios) {
      const started = Date.now();
      let r: RunResult;
      try {
        r = await runScenario(ctx(), s, run);
      } catch (e) {
        r = { scenario: s, run, ok: false, oldLeader: '?', newLeader: null, gapS: null, dualWindows: 0, dualS: 0, lost: null, acked: 0, writerErrors: 0, settleS: null, failoverS: null, notes: [`did not start: ${(e as Error).message.slice(0, 300)}`] };
      }
      results.push(r);
      console.log(`[lw ${loopWait} run ${run}] ${s} (${((Date.now() - started) / 1000).toFixed(0)} s): ${runLine(r)}`);
      if (!r.ok) {
        for (const n of cluster.nodes) console.log(`  ${n.name} agent log:\n    ${logTail(n.log())}`);
        console.log('  restarting the cluster for the next run');
        await stopCluster();
        cluster = await startCluster(o, loopWait);
      }
    }
  }
  console.log(`\nloop_wait ${loopWait} (ttl ${o.ttl}, retry_timeout ${rt}):`);
  console.log(scenarioTable(results, o.scenarios));
  await stopCluster();
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { console.log(`${sig}: stopping the cluster`); void stopCluster().finally(() => process.exit(130)); });
  }
  for (const lw of o.loopWaits) {
    try {
      await benchLoopWait(o, lw);
    } catch (e) {
      console.log(`loop_wait ${lw}: ${(e as Error).stack ?? e}`);
      await stopCluster();
    }
  }
}

main().then(() => process.exit(0), async (e) => { console.error(e); await stopCluster(); process.exit(1); });
