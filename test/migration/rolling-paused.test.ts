/**
 * A rolling migration without a switchover (docs/migrating-from-patroni.md, "without a switchover"):
 * the replicas move to pgha as in rolling.test.ts; then the cluster is paused (maintenance mode), and
 * the primary's `patroni` is replaced by `pgha run` while its PostgreSQL keeps running: Patroni in
 * pause leaves PostgreSQL and the leader key alone when it stops, pgha adopts the running primary and
 * takes its own key over (same name); `pgha resume` ends the pause. The primary never stops, so the
 * writer sees no interruption beyond its own pace; the leader never changes; nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { MixedCluster, type MixedNode } from './mixed-cluster.js';
import { SteadyWriter, longestGapIn, lostOn } from './writer.js';

let c: MixedCluster;
let writer: SteadyWriter;

async function replaceReplica(n: MixedNode, leader: MixedNode): Promise<void> {
  await n.stop();
  n.start('pgha');
  await c.waitStreaming(leader, 150_000);
  await c.waitListed('pgha', c.healthyRows('pgha', leader.name), 60_000, n);
}

describe('rolling migration in maintenance mode: the primary changes agent without a switchover', () => {
  beforeAll(async () => {
    c = await MixedCluster.start(['patroni', 'patroni', 'patroni']);
    await c.waitStreaming(c.node('node1'), 150_000);
    writer = new SteadyWriter(c.nodes.map((n) => n.pgPort));
    await writer.start();
  }, 240_000);

  afterAll(async () => {
    await writer?.stop();
    await c?.stop();
  }, 120_000);

  it('pause, swap the primary\'s agent, resume: the same primary throughout, no write gap, nothing lost', async () => {
    const [primary, r1, r2] = [c.node('node1'), c.node('node2'), c.node('node3')];
    for (const r of [r1, r2]) await replaceReplica(r, primary);
    const pm = primary.postmasterPid();
    expect(pm).not.toBeNull();

    const pause = await c.pgha(['pause', c.scope, '--wait'], r1);
    expect(pause.code, pause.stderr + pause.stdout).toBe(0);
    const swapFrom = Date.now();
    await primary.stop(); // Patroni in pause: PostgreSQL and the leader key stay
    expect(primary.postmasterPid(), 'PostgreSQL kept running').toBe(pm);
    primary.start('pgha');
    // pgha adopts the running primary and holds the leader key under its own lease.
    await waitFor(async () => (await primary.api('/patroni').catch(() => null))?.body?.role === 'primary' || null, 60_000, 'node1 answered by pgha as the primary');
    const resume = await c.pgha(['resume', c.scope, '--wait'], r1);
    expect(resume.code, resume.stderr + resume.stdout).toBe(0);
    await c.waitListed('pgha', c.healthyRows('pgha', 'node1'), 60_000, primary);
    const swapTo = Date.now();
    expect(primary.postmasterPid(), 'the same postmaster: no restart, no switchover').toBe(pm);
    expect((await c.list('pgha')).find((r) => r.Role === 'Leader')?.Member).toBe('node1');
    await new Promise((r) => setTimeout(r, 2000));

    const report = await writer.stop();
    const swapGap = longestGapIn(report.ackTimes, swapFrom, swapTo);
    console.log(`paused migration: ${report.acked} writes acknowledged, ${report.errors} failed attempts; longest write gap ${report.longestGapMs} ms; while the primary changed agent: ${swapGap} ms`);
    expect(report.errors).toBe(0);
    // No interruption: the writer's pace (20 ms) on a busy machine, far below a switchover's.
    expect(swapGap).toBeLessThan(1000);
    const acked = writer.ackedIds;
    for (const n of c.nodes) {
      await waitFor(async () => (await lostOn(n, acked)) === 0, 30_000, `${n.name}: every acknowledged row`);
    }
    for (const n of c.nodes) expect(n.kind).toBe('pgha');
  }, 240_000);
});
