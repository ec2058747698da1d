/**
 * synchronous_mode on, end to end on 3 agents, etcd and PostgreSQL 15 (ttl 20, loop_wait 1):
 *  - the leader lists its standby in synchronous_standby_names and `/sync`; GET /cluster, `pgha list`
 *    and the /sync, /async health checks say so;
 *  - the sync standby shut down (SIGTERM) is released from /sync before its PostgreSQL stops;
 *  - strict mode with both replicas stopped: commits block, none is acknowledged; they go through
 *    once a replica is back;
 *  - a switchover answers 200 and loses no acknowledged write;
 *  - the primary's whole node SIGKILLed under a steady write load: the sync standby takes over and
 *    holds every acknowledged write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { leaderOtherThan } from '../helpers/probe.js';
import { nonPostgresTree, signalAll } from '../helpers/tree.js';
import { runCtl } from '../ctl/run-ctl.js';
import { createLedger, LEDGER_TABLE, missingWrites, startWriter } from '../chaos/writer.js';

let cluster: TestCluster;
const TTL = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ssnOf = async (n: TestNode) => (await n.sql<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v"))[0]!.v;

/** The leader once `/sync` names a standby that PostgreSQL also waits for. */
async function syncEstablished(): Promise<{ leader: TestNode; standby: string }> {
  return waitFor(async () => {
    const leader = await cluster.waitHealthy(2);
    const members = (await leader.get('/cluster')).body.members as Array<{ name: string; role: string }>;
    const standby = members.find((m) => m.role === 'sync_standby')?.name;
    if (!standby) return null;
    return (await ssnOf(leader)) === standby ? { leader, standby } : null;
  }, 60_000, 'a synchronous standby in /sync and synchronous_standby_names', 250);
}

async function patchConfig(n: TestNode, body: Record<string, unknown>) {
  const r = await n.get('/config', { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(r.status).toBe(200);
}

describe('synchronous_mode on', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ dynamic: { synchronous_mode: true }, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
    const leader = await cluster.waitHealthy(2);
    await createLedger(leader);
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('the leader names its sync standby in PostgreSQL and /sync; the API and pgha list show it', async () => {
    const { leader, standby } = await syncEstablished();
    const other = cluster.nodes.find((n) => n !== leader && n.name !== standby)!;
    const cfg = leader.configPath;
    const list = await runCtl(['-c', cfg, 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`\\| ${standby} .*\\| Sync Standby \\|`));
    expect(list.stdout).toMatch(new RegExp(`\\| ${other.name} .*\\| Replica +\\|`));
    // The standby learns it is listed in /sync at its next HA cycle (its API answers from its own view).
    await waitFor(async () => (await cluster.node(standby).get('/sync')).status === 200 || null, 15_000, `${standby}'s /sync check to answer 200`);
    expect((await cluster.node(standby).get('/synchronous')).status).toBe(200);
    expect((await cluster.node(standby).get('/read-only-sync')).status).toBe(200);
    expect((await cluster.node(standby).get('/async')).status).toBe(503);
    expect((await other.get('/sync')).status).toBe(503);
    expect((await other.get('/asynchronous')).status).toBe(200);
    expect((await other.get('/read-only-sync')).status).toBe(503);
    expect((await leader.get('/read-only-sync')).status).toBe(200);
    expect((await cluster.node(standby).get('/patroni')).body.sync_standby).toBe(true);
    // A switchover to the async member is refused as Patroni refuses it.
    const r = await leader.get('/switchover', { method: 'POST', body: JSON.stringify({ leader: leader.name, candidate: other.name }), headers: { 'content-type': 'application/json' } });
    expect(r).toEqual({ status: 412, body: 'candidate name does not match with sync_standby' });
  }, 120_000);

  it('a synchronous standby that shuts down is released from /sync while its PostgreSQL still runs', async () => {
    const { leader, standby } = await syncEstablished();
    const s = cluster.node(standby);
    const other = cluster.nodes.find((n) => n !== leader && n !== s)!;
    const pm = s.postmasterPid();
    expect(pm).not.toBeNull();
    // Watch the leader's view: was the standby dropped from /sync before its postmaster went away?
    let releasedWhileRunning = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const members = ((await leader.get('/cluster').catch(() => null))?.body?.members ?? []) as Array<{ name: string; role: string }>;
        const listed = members.some((m) => m.name === standby && m.role === 'sync_standby');
        if (members.length && !listed && s.postmasterPid() === pm) releasedWhileRunning = true;
        await sleep(50);
      }
    })();
    await s.stopAgent();
    watching = false;
    await watcher;
    expect(s.postmasterPid()).toBeNull();
    expect(releasedWhileRunning, `logs: ${s.logFile}`).toBe(true);
    // The other replica is the synchronous standby now, in PostgreSQL and in /sync.
    await waitFor(async () => (await ssnOf(leader)) === other.name || null, 30_000, `${other.name} in synchronous_standby_names`);
    s.start();
    await cluster.waitHealthy(2, 120_000);
  }, 180_000);

  it('strict mode with both replicas stopped: commits block and none is acknowledged', async () => {
    const { leader } = await syncEstablished();
    await patchConfig(leader, { synchronous_mode_strict: true });
    const replicas = cluster.nodes.filter((n) => n !== leader);
    await Promise.all(replicas.map((n) => n.stopAgent()));
    await waitFor(() => replicas.every((n) => n.postmasterPid() === null) || null, 30_000, 'the replicas to stop');
    const w = startWriter(cluster, { commitTimeoutMs: 4000, firstId: 1_000_000 });
    await sleep(12_000);
    await w.stop();
    expect([...w.acked.keys()], 'commits acknowledged with no replica running').toEqual([]);
    expect(w.unacked).toBeGreaterThan(0);
    // PostgreSQL waits for the standby /sync still names (strict keeps it), not for nobody.
    expect(await ssnOf(leader)).not.toBe('');
    // A replica back: commits go through again.
    for (const n of replicas) n.start();
    await cluster.waitHealthy(2, 120_000);
    const w2 = startWriter(cluster, { commitTimeoutMs: 10_000, firstId: 2_000_000 });
    await waitFor(() => w2.acked.size >= 5 || null, 60_000, 'commits acknowledged again');
    await w2.stop();
    await patchConfig(leader, { synchronous_mode_strict: false });
  }, 240_000);

  it('a switchover answers 200 and loses no acknowledged write', async () => {
    const { leader, standby } = await syncEstablished();
    const w = startWriter(cluster, { firstId: 3_000_000 });
    await sleep(2000);
    const r = await leader.get('/switchover', { method: 'POST', body: JSON.stringify({ leader: leader.name, candidate: standby }), headers: { 'content-type': 'application/json' } });
    expect(r.status, String(r.body)).toBe(200);
    expect(r.body).toBe(`Successfully switched over to "${standby}"`);
    await cluster.waitHealthy(2, 120_000);
    await sleep(2000);
    await w.stop();
    expect(w.acked.size).toBeGreaterThan(10);
    const now = cluster.node((await cluster.leaderName())!);
    expect(await missingWrites(now, w.acked)).toEqual([]);
  }, 180_000);

  it('the primary node SIGKILLed under load: the sync standby takes over with every acknowledged write', async () => {
    const { leader, standby } = await syncEstablished();
    const w = startWriter(cluster, { firstId: 4_000_000 });
    await waitFor(() => w.acked.size > 50 || null, 30_000, 'some acknowledged writes');
    // The whole node: the agent's tree and PostgreSQL at the same instant.
    const pm = leader.postmasterPid();
    signalAll([...nonPostgresTree(leader.proc!.pid), ...(pm ? [pm] : [])], 'SIGKILL');
    await leader.proc!.exited;
    const next = await leaderOtherThan(cluster, leader.name, (TTL + 30) * 1000);
    expect(next.name).toBe(standby);
    await sleep(2000);
    await w.stop();
    const onOld = [...w.acked.values()].filter((n) => n === leader.name).length;
    expect(onOld, 'writes acknowledged by the crashed primary').toBeGreaterThan(50);
    expect(await missingWrites(next, w.acked)).toEqual([]);
    const [{ n }] = await next.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${LEDGER_TABLE}`);
    expect(n).toBeGreaterThanOrEqual(w.acked.size);
    leader.start();
    await cluster.waitHealthy(2, 120_000);
  }, 240_000);
});
