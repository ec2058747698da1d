/**
 * No orphan primary under every agent-side failure, and no replica left stuck after a failover
 * (issue 11), end to end on 3 agents, etcd and PostgreSQL 15 (ttl 20, safety_margin 5):
 *  - the fence follows a ttl change made through PATCH /config;
 *  - the primary's agent and all its non-PostgreSQL descendants SIGKILLed at the same instant (the
 *    fence runs outside that tree: it freezes PostgreSQL at once and kills it at the deadline): the
 *    old primary accepts no write afterwards, and never while another does;
 *  - the agent's tree and the fence SIGKILLed together: PostgreSQL dies with the fence;
 *  - a replica that received WAL the new leader never had streams from the new leader again within
 *    ttl + 10 s of the promotion.
 * node3 carries nofailover, so the failover candidate is always the other of node1/node2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FenceClient, fenceFiles, processState, silentLogger } from '@pgha/core';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { nonPostgresTree, signalAll } from '../helpers/tree.js';
import { testUser } from '../helpers/user.js';
import { leaderOtherThan, probeWritable, writable } from '../helpers/probe.js';

let cluster: TestCluster;
const TTL = 20;



async function fenceState(n: TestNode) {
  const f = fenceFiles(n.dataDir, testUser()?.uid);
  const c = new FenceClient(n.dataDir, silentLogger, f.base, f.log);
  // The state file, not a request: the agent's fence has one client, the agent.
  const st = await c.existing();
  if (!st) throw new Error(`no fence runs for ${n.name}`);
  return st;
}


/** PATCH /config on the leader, with the ctl's credentials-free API (the test cluster has no auth). */
async function patchConfig(n: TestNode, body: Record<string, unknown>) {
  const r = await n.get('/config', { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(r.status).toBe(200);
}

describe('safety: no orphan primary, no stuck replica', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: [{}, {}, { tags: { nofailover: true } }], local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
    await cluster.waitHealthy(2);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('the fence follows a ttl change made through PATCH /config', async () => {
    const leader = await cluster.waitHealthy(2);
    await waitFor(async () => (await fenceState(leader)).armed, 10_000, 'the fence armed');
    // ttl 20, safety_margin 5: fed with at most 15 s.
    expect((await fenceState(leader)).deadlineLeftMs!).toBeLessThanOrEqual((TTL - 5) * 1000);
    await patchConfig(leader, { ttl: 40 });
    await waitFor(async () => ((await fenceState(leader)).deadlineLeftMs ?? 0) > (TTL - 5) * 1000 + 2000, 15_000, 'the fence deadline to grow with ttl 40');
    await patchConfig(leader, { ttl: TTL });
    await waitFor(async () => ((await fenceState(leader)).deadlineLeftMs ?? Infinity) <= (TTL - 5) * 1000, 15_000, 'the fence deadline back within ttl 20');
    expect(await leader.get('/patroni').then((r) => r.body.fence_armed)).toBe(true);
  }, 90_000);

  it('the agent and all its non-PostgreSQL descendants SIGKILLed together: the old primary takes no write afterwards', async () => {
    const leader = await cluster.waitHealthy(2);
    const pm = leader.postmasterPid()!;
    const tree = nonPostgresTree(leader.proc!.pid);
    const fence = (await fenceState(leader)).pid;
    expect(tree).toContain(leader.proc!.pid);
    expect(tree).not.toContain(fence); // re-parented to init: a kill of the agent's tree leaves it guarding
    const p = probeWritable(cluster);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    signalAll(tree, 'SIGKILL');
    await leader.proc!.exited;
    // The fence freezes PostgreSQL at once and kills it at the deadline (ttl - safety_margin after
    // the last renewal), before the lock can expire.
    await waitFor(() => processState(pm) === 'T' || null, 2000, 'the old postmaster frozen by its fence', 20);
    await waitFor(() => leader.postmasterPid() !== pm || null, (TTL - 5) * 1000, 'the fence to kill the old postmaster at the deadline', 50);
    const next = await leaderOtherThan(cluster, leader.name, (TTL + 30) * 1000);
    await new Promise((r) => setTimeout(r, 1000));
    await p.stop();
    const both = p.samples.filter((s) => s.writable.length > 1);
    expect(both, `samples with two writable primaries: ${JSON.stringify(both.slice(0, 3))}`).toEqual([]);
    const oldWrites = p.samples.filter((s) => s.writable.includes(leader.name) && s.t > killedAt + 200);
    expect(oldWrites, 'writes accepted by the old primary after the kill').toEqual([]);
    expect(next.name).not.toBe('node3');
    // The old node comes back as a replica of the new leader.
    leader.start();
    await cluster.waitHealthy(2, 120_000);
    expect(await cluster.leaderName()).toBe(next.name);
  }, 180_000);

  it('a replica holding WAL the new leader never had streams from it again within ttl + 10 s', async () => {
    const leader = await cluster.waitHealthy(2);
    const candidate = cluster.nodes.find((n) => n !== leader && n.name !== 'node3')!;
    const laggard = cluster.node('node3');
    // The candidate will be far behind: allow it to take over all the same.
    await patchConfig(leader, { maximum_lag_on_failover: 1 << 30 });
    // Freeze the candidate's WAL receiver, then write more WAL than socket buffers hold (so it
    // cannot catch up when it thaws): node3 receives WAL the candidate never gets.
    const [{ pid: receiver }] = await candidate.sql<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver');
    process.kill(receiver!, 'SIGSTOP');
    try {
      await leader.sql("CREATE TABLE IF NOT EXISTS diverge (id int, pad text); INSERT INTO diverge SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g");
      const [{ lsn }] = await leader.sql<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      await waitFor(async () => (await laggard.sql<{ ok: boolean }>(`SELECT pg_last_wal_receive_lsn() >= '${lsn}'::pg_lsn AS ok`))[0]!.ok || null, 10_000, 'node3 to receive the new WAL');
      const [{ ahead }] = await laggard.sql<{ ahead: boolean }>(
        `SELECT pg_last_wal_receive_lsn() > '${(await candidate.sql<{ l: string }>('SELECT pg_last_wal_receive_lsn()::text AS l'))[0]!.l}'::pg_lsn AS ahead`);
      expect(ahead).toBe(true);
      // The primary's agent tree and its fence are SIGKILLed together: PostgreSQL dies with the
      // fence (parent-death signal); the candidate (the only one allowed) takes over.
      const pm = leader.postmasterPid()!;
      signalAll([...nonPostgresTree(leader.proc!.pid), (await fenceState(leader)).pid], 'SIGKILL');
      await leader.proc!.exited;
      await waitFor(() => leader.postmasterPid() !== pm || null, 2000, 'the old postmaster to die with its fence', 20);
    } finally {
      process.kill(receiver!, 'SIGCONT');
    }
    const next = await leaderOtherThan(cluster, leader.name, (TTL + 30) * 1000);
    expect(next.name).toBe(candidate.name);
    const promotedAt = Date.now();
    await waitFor(async () => {
      const rows = await next.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = 'node3' AND state = 'streaming'");
      return rows[0]!.n === 1 || null;
    }, (TTL + 10) * 1000, 'node3 to stream from the new leader');
    expect(Date.now() - promotedAt).toBeLessThan((TTL + 10) * 1000);
    // It got there by rewinding its diverged WAL, and said so.
    expect(laggard.log()).toMatch(new RegExp(`the timeline of node3 diverged from ${next.name}: need rewind`));
    expect(laggard.log()).toMatch(new RegExp(`running pg_rewind from ${next.name}`));
    leader.start();
    await cluster.waitHealthy(2, 120_000);
    await patchConfig(next, { maximum_lag_on_failover: 1048576 });
  }, 240_000);
});
