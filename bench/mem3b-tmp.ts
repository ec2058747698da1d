// 3-node cluster: after SETTLE s, per agent RSS and its split (brk heap / other anon / file).
import { readFileSync } from 'node:fs';
import { TestCluster } from '../test/helpers/cluster.js';
process.env.VITEST_POOL_ID = process.env.POOL ?? '27';
const split = (pid: number) => {
  let cur = '', heap = 0, anon = 0, file = 0;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) { cur = l; continue; }
    const m = /^Rss:\s+(\d+)/.exec(l); if (!m) continue;
    const name = cur.split(/\s+/)[5] ?? '';
    if (name === '[heap]') heap += Number(m[1]); else if (!name || name.startsWith('[anon')) anon += Number(m[1]); else file += Number(m[1]);
  }
  return `rss ${((heap + anon + file) / 1024).toFixed(1)} brk ${(heap / 1024).toFixed(1)} anon ${(anon / 1024).toFixed(1)} file ${(file / 1024).toFixed(1)}`;
};
const c = await TestCluster.start({ nodes: 3, dynamic: { ttl: 20, loop_wait: 2, retry_timeout: 9 }, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
try {
  await c.waitHealthy(2, 180_000);
  await new Promise((r) => setTimeout(r, Number(process.env.SETTLE ?? 60) * 1000));
  console.log(`RESULT ${process.env.PGHA_TEST_NODE_ARGS ?? ''}: ` + c.nodes.map((n) => `${n.name}${n.log().includes('the leader with the lock') ? '*' : ''} ${split(n.proc!.pid)}`).join(' | '));
} finally {
  await c.stop();
}
process.exit(0);
