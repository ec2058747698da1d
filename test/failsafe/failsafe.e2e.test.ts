/**
 * Failsafe mode end to end (issue 16): 3 agents on PostgreSQL 15 and a real etcd, ttl 20,
 * safety_margin 5 (the fence fires 15 s after the last lock refresh). etcd is stopped (SIGSTOP)
 * for longer than ttl:
 *  - failsafe on: the primary stays writable (same postmaster, every write acknowledged), the
 *    replicas keep streaming, nobody else ever accepts writes; etcd back: the cluster is normal;
 *  - a member of /failsafe that does not answer: the primary demotes;
 *  - failsafe off: the primary demotes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERUSER, TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { acceptsWrites } from '../helpers/writable.js';

const AUTH = 'Basic ' + Buffer.from('admin:admin-secret').toString('base64');
let cluster: TestCluster;

const writes = (n: TestNode, timeoutMs = 3000) => acceptsWrites(n.pgPort, SUPERUSER.username, SUPERUSER.password, timeoutMs);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every node's writability every 500 ms until stopped. */
function sample(nodes: readonly TestNode[]) {
  const samples: Array<{ t: number; writable: string[] }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = Date.now();
      const ok = await Promise.all(nodes.map(async (n) => ((await writes(n)) ? n.name : null)));
      samples.push({ t, writable: ok.filter((x): x is string => !!x) });
      await sleep(Math.max(0, 500 - (Date.now() - t)));
    }
  })();
  return { samples, async stop() { running = false; await done; } };
}

async function streamingTo(leader: TestNode): Promise<string[]> {
  const rows = await leader.sql<{ application_name: string }>("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
  return rows.map((r) => r.application_name);
}

async function patchConfig(node: TestNode, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${node.apiUrl}/config`, { method: 'PATCH', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBe(200);
}

describe('failsafe mode: a DCS outage longer than ttl (etcd, PostgreSQL 15)', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3, dynamic: { failsafe_mode: true }, restapiAuth: { username: 'admin', password: 'admin-secret' },
      local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }),
    });
    await cluster.waitHealthy(2);
  }, 150_000);

  afterAll(async () => {
    await cluster?.etcd.freeze(0, false).catch(() => undefined);
    await cluster?.stop();
  }, 120_000);

  it('the leader publishes every member in /failsafe; a replica refuses POST /failsafe without credentials', async () => {
    const leader = await cluster.waitHealthy(2);
    const fs = await waitFor(async () => {
      const r = await leader.get('/failsafe');
      return r.status === 200 && Object.keys(r.body).length === 3 ? r.body : null;
    }, 20_000, 'GET /failsafe listing 3 members');
    for (const n of cluster.nodes) expect(fs[n.name]).toBe(`${n.apiUrl}/patroni`);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    const res = await fetch(`${replica.apiUrl}/failsafe`, { method: 'POST', body: JSON.stringify({ name: leader.name, conn_url: 'postgres://x', api_url: 'http://x/patroni' }) });
    expect(res.status).toBe(401);
    // The primary refuses to accept another primary.
    const own = await fetch(`${leader.apiUrl}/failsafe`, { method: 'POST', headers: { authorization: AUTH }, body: JSON.stringify({ name: replica.name, conn_url: 'postgres://x', api_url: 'http://x/patroni' }) });
    expect(own.status).toBe(500);
    expect(await own.text()).toBe('Running as a leader');
  }, 60_000);

  it('failsafe on: the primary stays writable, replicas keep streaming, nobody promotes; etcd back: normal again', async () => {
    const leader = await cluster.waitHealthy(2);
    const replicas = cluster.nodes.filter((n) => n !== leader);
    const pid = leader.postmasterPid();
    await cluster.etcd.freeze(0, true);
    const frozenAt = Date.now();
    const probe = sample(cluster.nodes);
    // ttl 20 + the fence's whole window (15 s after the last confirmation) + margin.
    await sleep(30_000);
    await leader.sql("CREATE TABLE IF NOT EXISTS fs (v text); INSERT INTO fs VALUES ('during-outage')");
    await probe.stop();
    expect(Date.now() - frozenAt).toBeGreaterThan(30_000);
    const notOnlyLeader = probe.samples.filter((s) => s.writable.length !== 1 || s.writable[0] !== leader.name);
    expect(notOnlyLeader, `samples where the leader alone was not writable: ${JSON.stringify(notOnlyLeader.slice(0, 5))}`).toEqual([]);
    expect(probe.samples.length).toBeGreaterThan(20);
    expect(leader.postmasterPid()).toBe(pid);
    expect(await streamingTo(leader)).toEqual(replicas.map((r) => r.name).sort());
    for (const r of replicas) {
      await waitFor(async () => (await r.sql("SELECT count(*)::int AS c FROM fs WHERE v = 'during-outage'"))[0]?.c === 1, 10_000, `${r.name} to replay the write made during the outage`);
    }
    // GET /failsafe answers from the last value seen, without the DCS.
    expect(Object.keys((await leader.get('/failsafe')).body).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    const st = (await leader.get('/patroni')).body;
    expect(st.failsafe_mode_is_active).toBe(true);
    expect(st.role).toBe('primary');
    expect((await leader.get('/primary')).status).toBe(200);
    expect((await replicas[0]!.get('/patroni')).body.failsafe_mode_is_active).toBe(true);
    expect(leader.log()).toContain('continue to run as a leader because failsafe mode is enabled and all members are accessible');

    await cluster.etcd.freeze(0, false);
    const back = await cluster.waitHealthy(2, 60_000);
    expect(back.name).toBe(leader.name);
    expect(leader.postmasterPid()).toBe(pid);
    await waitFor(async () => (await leader.get('/patroni')).body.failsafe_mode_is_active === undefined, 30_000, 'failsafe mode to end');
    await cluster.expectWritablePrimaries([leader.name]);
  }, 150_000);

  it('a /failsafe member that does not answer: the primary demotes', async () => {
    const leader = await cluster.waitHealthy(2);
    const silent = cluster.nodes.find((n) => n !== leader)!;
    silent.signalAgent('SIGSTOP');
    try {
      await cluster.etcd.freeze(0, true);
      const frozenAt = Date.now();
      await waitFor(async () => !(await writes(leader, 1000)), 30_000, 'the primary to stop accepting writes');
      // Demoted by its own decision (retry_timeout 5 + a failed round of POST /failsafe), before ttl.
      expect(Date.now() - frozenAt).toBeLessThan(20_000);
      await cluster.expectWritablePrimaries([]);
      await waitFor(() => leader.log().includes('failsafe: no confirmation from ' + silent.name), 10_000, 'the missing confirmation in the log');
    } finally {
      await cluster.etcd.freeze(0, false);
      silent.signalAgent('SIGCONT');
    }
    await cluster.waitHealthy(2, 90_000);
    expect((await cluster.writablePrimaries()).length).toBe(1);
  }, 150_000);

  it('failsafe off: the primary demotes when the DCS is gone', async () => {
    let leader = await cluster.waitHealthy(2);
    await patchConfig(leader, { failsafe_mode: null });
    await waitFor(async () => (await leader.get('/failsafe')).status === 502, 20_000, 'failsafe mode off on the leader');
    leader = await cluster.waitHealthy(2);
    await cluster.etcd.freeze(0, true);
    const frozenAt = Date.now();
    try {
      await waitFor(async () => !(await writes(leader, 1000)), 30_000, 'the primary to stop accepting writes');
      expect(Date.now() - frozenAt).toBeLessThan(20_000);
      await cluster.expectWritablePrimaries([]);
    } finally {
      await cluster.etcd.freeze(0, false);
    }
    await cluster.waitHealthy(2, 90_000);
    expect((await cluster.writablePrimaries()).length).toBe(1);
  }, 150_000);
});
