/**
 * synchronous_mode: quorum end to end on 3 agents, etcd and PostgreSQL 15: the leader sets
 * `ANY 1 (a,b)` and `/sync` {quorum 1, both voters}; GET /cluster and `pgha list` say Quorum
 * Standby; the primary node SIGKILLed under load leaves a new primary with every acknowledged
 * write; the mode then goes quorum → on → off while writes keep flowing, without losing one.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { leaderOtherThan } from '../helpers/probe.js';
import { nonPostgresTree, signalAll } from '../helpers/tree.js';
import { runCtl } from '../ctl/run-ctl.js';
import { createLedger, missingWrites, startWriter } from '../chaos/writer.js';

let cluster: TestCluster;
const TTL = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ssnOf = async (n: TestNode) => (await n.sql<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v"))[0]!.v;

/** Roles by member name from GET /cluster. */
async function roles(n: TestNode): Promise<Record<string, string>> {
  const members = (await n.get('/cluster')).body.members as Array<{ name: string; role: string }>;
  return Object.fromEntries(members.map((m) => [m.name, m.role]));
}

/** The raw `/sync` value in etcd (null when absent). */
async function syncValue(): Promise<string | null> {
  const client = new Etcd3({ hosts: [...cluster.etcd.endpoints] });
  try {
    return await client.get(`/service/${cluster.scope}/sync`).string();
  } finally {
    client.close();
  }
}

async function patchConfig(n: TestNode, body: Record<string, unknown>) {
  const r = await n.get('/config', { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(r.status).toBe(200);
}

/** The leader once both replicas are quorum standbys and PostgreSQL waits for ANY 1 of them. */
async function quorumEstablished(): Promise<TestNode> {
  return waitFor(async () => {
    const leader = await cluster.waitHealthy(2);
    const standbys = Object.entries(await roles(leader)).filter(([, r]) => r === 'quorum_standby').map(([n]) => n).sort();
    if (standbys.length !== 2) return null;
    return (await ssnOf(leader)) === `ANY 1 (${standbys.join(',')})` ? leader : null;
  }, 60_000, 'two quorum standbys and ANY 1 (...)', 250);
}

describe('synchronous_mode quorum', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ dynamic: { synchronous_mode: 'quorum' }, local: () => ({ watchdog: { mode: 'off', safety_margin: 5 } }) });
    await createLedger(await cluster.waitHealthy(2));
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('ANY 1 over both replicas, /sync quorum 1, Quorum Standby in the API and pgha list', async () => {
    const leader = await quorumEstablished();
    const list = await runCtl(['-c', leader.configPath, 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.match(/\| Quorum Standby \|/g)?.length).toBe(2);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    // The replica learns it is a quorum standby at its next HA cycle (its API answers from its own view).
    await waitFor(async () => (await replica.get('/quorum')).status === 200 || null, 15_000, `${replica.name}'s /quorum check to answer 200`);
    expect((await replica.get('/read-only-quorum')).status).toBe(200);
    expect((await replica.get('/sync')).status).toBe(503);
    expect((await leader.get('/quorum')).status).toBe(503);
    const sync = JSON.parse((await syncValue())!);
    expect(sync).toMatchObject({ leader: leader.name, quorum: 1 });
    expect(String(sync.sync_standby).split(',').sort()).toEqual(cluster.nodes.filter((n) => n !== leader).map((n) => n.name).sort());
  }, 120_000);

  it('the primary node SIGKILLed under load: the new primary holds every acknowledged write', async () => {
    const leader = await quorumEstablished();
    const w = startWriter(cluster, { firstId: 5_000_000 });
    await waitFor(() => w.acked.size > 50 || null, 30_000, 'some acknowledged writes');
    const pm = leader.postmasterPid();
    signalAll([...nonPostgresTree(leader.proc!.pid), ...(pm ? [pm] : [])], 'SIGKILL');
    await leader.proc!.exited;
    const next = await leaderOtherThan(cluster, leader.name, (TTL + 30) * 1000);
    await sleep(2000);
    await w.stop();
    expect([...w.acked.values()].filter((n) => n === leader.name).length).toBeGreaterThan(50);
    expect(await missingWrites(next, w.acked)).toEqual([]);
    leader.start();
    await quorumEstablished();
  }, 240_000);

  it('quorum → on → off while writing: no acknowledged write lost, /sync follows the mode', async () => {
    const leader = await quorumEstablished();
    const w = startWriter(cluster, { firstId: 6_000_000 });
    await patchConfig(leader, { synchronous_mode: true });
    await waitFor(async () => {
      const v = await ssnOf(leader);
      return !v.startsWith('ANY') && v !== '' ? v : null;
    }, 30_000, 'a priority synchronous_standby_names');
    await waitFor(async () => JSON.parse((await syncValue()) ?? '{}').quorum === 0 || null, 30_000, '/sync quorum 0');
    await patchConfig(leader, { synchronous_mode: false });
    await waitFor(async () => ((await syncValue()) === null && (await ssnOf(leader)) === '') || null, 30_000, '/sync deleted and synchronous_standby_names cleared');
    await sleep(1000);
    await w.stop();
    expect(w.acked.size).toBeGreaterThan(20);
    expect(await missingWrites(leader, w.acked)).toEqual([]);
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      await waitFor(async () => (await missingWrites(n, w.acked)).length === 0 || null, 30_000, `${n.name} to replay the writes`);
    }
  }, 180_000);
});
