// Long idle run of a 2-node cluster: per minute RSS split (brk heap / other anon / file) and the V8 heap
// after the last GC (--trace-gc in PGHA_TEST_NODE_ARGS); heap snapshots of the leader at SNAP1 and the end.
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { TestCluster } from '../test/helpers/cluster.js';
process.env.VITEST_POOL_ID = '27';
const MIN = Number(process.env.MINUTES ?? 20);
const sched = (pid: number) => { let t = 0; for (const d of readdirSync(`/proc/${pid}/task`)) { try { t += Number(readFileSync(`/proc/${pid}/task/${d}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ } } return t; };
const cpuLast: Record<number, number> = {};
const split = (pid: number) => {
  let cur = '', heap = 0, anon = 0, file = 0;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) { cur = l; continue; }
    const m = /^Rss:\s+(\d+)/.exec(l); if (!m) continue;
    const name = cur.split(/\s+/)[5] ?? '';
    if (name === '[heap]') heap += Number(m[1]); else if (!name || name.startsWith('[anon')) anon += Number(m[1]); else file += Number(m[1]);
  }
  return `brk ${(heap / 1024).toFixed(1)} anon ${(anon / 1024).toFixed(1)} file ${(file / 1024).toFixed(1)}`;
};
const c = await TestCluster.start({ nodes: 2, dynamic: { ttl: 20, loop_wait: 2, retry_timeout: 9 }, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
await c.waitHealthy(1, 120_000);
const leader = c.nodes.find((n) => n.log().includes('the leader with the lock'))!;
const snap = async (tag: string) => { process.kill(leader.proc!.pid, 'SIGUSR2'); await new Promise((r) => setTimeout(r, 15000)); console.log('SNAP', tag, execSync(`for f in ${leader.dir}/*.heapsnapshot; do mv $f /tmp/snap-${tag}.heapsnapshot; done; ls -la /tmp/snap-${tag}.heapsnapshot`).toString().trim()); };
for (let m = 1; m <= MIN; m++) {
  await new Promise((r) => setTimeout(r, 60_000));
  for (const n of c.nodes) {
    const pid = n.proc!.pid;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const gc = readFileSync(n.logFile, 'utf8').split('\n').filter((l) => /Mark-Compact|Scavenge|Mark-sweep/.test(l));
    const last = gc.at(-1)?.replace(/^.*?(Scavenge|Mark-Compact|Mark-sweep)/, '$1').slice(0, 60) ?? '';
    const mc = gc.filter((l) => /Mark-Compact|Mark-sweep/.test(l)).at(-1)?.replace(/^.*?(Mark-Compact|Mark-sweep)/, '$1').slice(0, 50) ?? '';
    const cpuNow = sched(pid); const cpu = cpuLast[pid] === undefined ? NaN : (cpuNow - cpuLast[pid]!) / 1e6 / 60; cpuLast[pid] = cpuNow;
    console.log(`min ${m} ${n.name}${n === leader ? '*' : ''} cpu ${cpu.toFixed(2)}ms/s rss ${rss.toFixed(1)} ${split(pid)} | gcs ${gc.length} last ${last} | mc ${mc}`);
  }
  if (process.env.SNAP && m === Number(process.env.SNAP1 ?? 3)) await snap('early');
}
if (process.env.SNAP) await snap('late');
await c.stop();
process.exit(0);
