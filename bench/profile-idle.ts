// Ad-hoc: RSS and CPU of idle agents under given Node flags (PGHA_TEST_NODE_ARGS). Not part of the suite.
import { readFileSync } from 'node:fs';
import { TestCluster } from '../test/helpers/cluster.js';
process.env.VITEST_POOL_ID = '26';
const stat = (pid: number) => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); };
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const c = await TestCluster.start({ nodes: 2, dynamic: { ttl: 20, loop_wait: 2, retry_timeout: 9 }, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
await c.waitHealthy(1, 120_000);
await new Promise((r) => setTimeout(r, 10_000));
const t0 = c.nodes.map((n) => stat(n.proc!.pid));
await new Promise((r) => setTimeout(r, 30_000));
console.log(process.env.PGHA_TEST_NODE_ARGS ?? '(no flags)', c.nodes.map((n, i) => `${n.name} rss ${rss(n.proc!.pid).toFixed(1)} MB cpu ${((stat(n.proc!.pid) - t0[i]!) / 100 / 30 * 100).toFixed(2)}%`).join('; '));
await c.stop();
