/**
 * No orphan primary (issue 8), end to end: 3 agents on etcd and PostgreSQL 15, ttl 20, safety
 * margin 5. A probe tries a write on every node every 100 ms; at no sample may two nodes accept
 * writes, and the old primary must stop accepting writes before any replica is promoted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { leaderOtherThan, probeWritable, writable } from '../helpers/probe.js';

let cluster: TestCluster;



function assertSeparated(samples: Array<{ t: number; writable: string[] }>, oldPrimary: string) {
  const both = samples.filter((s) => s.writable.length > 1);
  expect(both, `samples with two writable primaries: ${JSON.stringify(both.slice(0, 3))}`).toEqual([]);
  const lastOld = Math.max(...samples.filter((s) => s.writable.includes(oldPrimary)).map((s) => s.t));
  const firstNew = Math.min(...samples.filter((s) => s.writable.some((w) => w !== oldPrimary)).map((s) => s.t));
  expect(firstNew).toBeGreaterThan(lastOld);
  return { lastOld, firstNew };
}


describe('fence: a dead or frozen agent never leaves a writable primary behind', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
    await cluster.waitHealthy(2);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('reports the fence armed on the primary only', async () => {
    const leader = await cluster.waitHealthy(2);
    await waitFor(async () => (await leader.get('/patroni')).body.fence_armed === true, 10_000, 'fence_armed on the leader');
    for (const n of cluster.nodes.filter((x) => x !== leader)) expect((await n.get('/patroni')).body.fence_armed).toBe(false);
  });

  it('SIGKILL of the primary agent: the old primary stops taking writes at once, before a replica is promoted', async () => {
    const leader = await cluster.waitHealthy(2);
    const p = probeWritable(cluster);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    leader.signalAgent('SIGKILL');
    await leader.proc!.exited;
    await leaderOtherThan(cluster, leader.name);
    await new Promise((r) => setTimeout(r, 1000));
    await p.stop();
    const { lastOld } = assertSeparated(p.samples, leader.name);
    expect(lastOld - killedAt).toBeLessThan(1000);
    // The restarted agent finds the lock gone: the fence stops the old primary, which rejoins.
    leader.start();
    await cluster.waitHealthy(2, 120_000);
    expect((await cluster.writablePrimaries()).length).toBe(1);
  }, 240_000);

  it('SIGSTOP of the primary agent longer than ttl: fenced before promotion; on SIGCONT it rejoins as a replica', async () => {
    const leader = await cluster.waitHealthy(2);
    const p = probeWritable(cluster);
    await new Promise((r) => setTimeout(r, 500));
    leader.signalAgent('SIGSTOP');
    const next = await leaderOtherThan(cluster, leader.name);
    await new Promise((r) => setTimeout(r, 2000));
    leader.signalAgent('SIGCONT');
    await p.stop();
    assertSeparated(p.samples, leader.name);
    const healthy = await cluster.waitHealthy(2, 120_000);
    expect(healthy.name).toBe(next.name);
    await waitFor(async () => (await leader.get('/patroni')).body.role === 'replica', 60_000, 'the woken agent to rejoin as a replica');
  }, 240_000);

  it('SIGSTOP shorter than ttl - safety_margin: nothing happens', async () => {
    const leader = await cluster.waitHealthy(2);
    const tl = (await leader.get('/patroni')).body.timeline;
    leader.signalAgent('SIGSTOP');
    await new Promise((r) => setTimeout(r, 6000));
    expect(await writable(leader)).toBe(true);
    leader.signalAgent('SIGCONT');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await cluster.leaderName()).toBe(leader.name);
    expect((await leader.get('/patroni')).body.timeline).toBe(tl);
    await cluster.expectWritablePrimaries([leader.name]);
  }, 60_000);

  it('SIGSTOP while a lock refresh is out (etcd slow to answer): on waking the answer is read, nothing happens', async () => {
    const leader = await cluster.waitHealthy(2);
    const tl = (await leader.get('/patroni')).body.timeline;
    const mark = leader.log().length;
    // etcd stopped for longer than loop_wait: the leader's next refresh is certainly waiting on it.
    await cluster.etcd.freeze(0, true);
    await new Promise((r) => setTimeout(r, 1500));
    leader.signalAgent('SIGSTOP');
    await cluster.etcd.freeze(0, false); // etcd answers; the frozen agent cannot read it yet
    await new Promise((r) => setTimeout(r, 6500)); // past retry_timeout: every deadline of that refresh is over
    leader.signalAgent('SIGCONT');
    await new Promise((r) => setTimeout(r, 3000));
    const log = leader.log().slice(mark);
    expect(log).not.toMatch(/failed to update leader lock|demoted self|cannot feed the fence/);
    expect(await cluster.leaderName()).toBe(leader.name);
    expect((await leader.get('/patroni')).body.timeline).toBe(tl);
    await cluster.expectWritablePrimaries([leader.name]);
  }, 60_000);

  it('agent restart (SIGKILL, then start at once) keeps the primary: no failover', async () => {
    const leader = await cluster.waitHealthy(2);
    const tl = (await leader.get('/patroni')).body.timeline;
    leader.signalAgent('SIGKILL');
    await leader.proc!.exited;
    leader.start();
    await waitFor(() => writable(leader), 30_000, 'the primary to take writes again');
    const healthy = await cluster.waitHealthy(2, 60_000);
    expect(healthy.name).toBe(leader.name);
    expect((await leader.get('/patroni')).body.timeline).toBe(tl);
    expect(leader.log()).toMatch(/fence take-over: kept/);
  }, 120_000);
});
