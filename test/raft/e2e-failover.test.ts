/**
 * End to end on the embedded Raft DCS: three real `pgha run` agents (each hosting its Raft member
 * in-process) with real PostgreSQL 15. Losing the primary's host entirely (agent and postmaster
 * SIGKILLed by PID, so its Raft member is gone too) promotes a replica, the other replica follows
 * it, and the two survivors still form a Raft quorum that accepts DCS writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { isAlive, waitFor } from '../helpers/procs.js';
import { pidAlive } from '@pgha/core';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3, dcs: { kind: 'raft', password: 'raft-secret' }, dynamic: { loop_wait: 1, ttl: 20, retry_timeout: 5 } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

interface Member { name: string; role: string; state: string; timeline?: number; lag?: number | string }

async function members(n: TestNode): Promise<Member[]> {
  const { status, body } = await n.get('/cluster');
  if (status !== 200) throw new Error(`GET /cluster: ${status}`);
  return body.members as Member[];
}

describe('pgha on the raft DCS', () => {
  it('bootstraps one leader and two streaming replicas, every agent serving the same topology', async () => {
    const leader = await cluster.waitHealthy(2, 90_000).catch((e: Error) => {
      // Say why: the agents' last warnings and errors (e.g. a REST API failing to answer /primary).
      const why = cluster.nodes.map((n) => `--- ${n.name}\n${n.log().split('\n').filter((l) => /WARNING|ERROR|Error/.test(l)).slice(-4).join('\n')}`).join('\n');
      throw new Error(`${e.message}\n${why}`);
    });
    for (const n of cluster.nodes) {
      const ms = await waitFor(async () => {
        const m = await members(n);
        return m.length === 3 && m.filter((x) => x.role === 'replica' && x.state === 'streaming').length === 2 ? m : null;
      }, 30_000, `${n.name}'s /cluster to show 3 members`);
      expect(ms.filter((m) => m.role === 'leader').map((m) => m.name)).toEqual([leader.name]);
      expect((await n.get('/patroni')).body.role).toBe(n === leader ? 'primary' : 'replica');
    }
    await cluster.expectWritablePrimaries([leader.name]);
    // Data written on the primary reaches both replicas.
    await leader.sql('CREATE TABLE raft_e2e (id int PRIMARY KEY, note text)');
    await leader.sql("INSERT INTO raft_e2e VALUES (1, 'before failover')");
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      await waitFor(async () => (await n.sql('SELECT 1 FROM raft_e2e WHERE id = 1')).length === 1, 20_000, `row on ${n.name}`);
    }
  }, 150_000);

  it('SIGKILL of the primary agent and its postmaster: a replica is promoted, the other follows, the survivors keep quorum', async () => {
    const old = await cluster.waitHealthy(2, 30_000);
    const agentPid = old.proc!.pid;
    const pmPid = old.postmasterPid();
    expect(pmPid).toBeGreaterThan(0);
    const oldTimeline = (await members(old)).find((m) => m.name === old.name)?.timeline;

    process.kill(agentPid, 'SIGKILL');
    process.kill(pmPid!, 'SIGKILL');
    // The postmaster's parent is its fence (bash), which reaps it at its next command or timer: a
    // zombie counts as gone, as pgha itself counts it (pidAlive).
    await waitFor(() => !isAlive(agentPid) && !pidAlive(pmPid!), 10_000, 'the killed processes to be gone');
    // The backends of a SIGKILLed postmaster exit on their own once they notice; make sure nothing serves the old port.
    await waitFor(async () => {
      try { await old.sql('SELECT 1'); return false; } catch { return true; }
    }, 20_000, `nothing to answer on ${old.name}'s port`);

    const survivors = cluster.nodes.filter((n) => n !== old);
    const started = Date.now();
    // The leader key expires (ttl 20 on the Raft leader's clock; a new Raft leader restarts TTLs), then
    // the healthiest replica takes it and promotes.
    const newLeader = await waitFor(async () => {
      const name = await cluster.leaderName();
      if (!name || name === old.name) return null;
      const n = cluster.node(name);
      return (await n.get('/primary')).status === 200 ? n : null;
    }, 90_000, 'a surviving replica to become the primary');
    const other = survivors.find((n) => n !== newLeader)!;
    const failoverSeconds = (Date.now() - started) / 1000;

    // The other survivor streams from the new primary.
    await waitFor(async () => {
      const rows = await newLeader.sql<{ application_name: string; state: string }>('SELECT application_name, state FROM pg_stat_replication');
      return rows.some((r) => r.application_name === other.name && r.state === 'streaming');
    }, 90_000, `${other.name} to stream from ${newLeader.name}`);
    expect((await other.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    expect((await other.get('/replica')).status).toBe(200);
    await cluster.expectWritablePrimaries([newLeader.name]);

    // The promotion moved to a new timeline and kept the data; new writes replicate to the follower.
    // The member key carries the new timeline from the cycle after the promotion finished.
    const me = await waitFor(async () => {
      const m = (await members(newLeader)).find((x) => x.name === newLeader.name);
      return m && (typeof oldTimeline !== 'number' || (m.timeline as number) > oldTimeline) ? m : null;
    }, 20_000, `${newLeader.name}'s member key on the new timeline`);
    expect(me).toMatchObject({ role: 'leader', state: 'running' });
    expect(await newLeader.sql('SELECT note FROM raft_e2e WHERE id = 1')).toEqual([{ note: 'before failover' }]);
    await newLeader.sql("INSERT INTO raft_e2e VALUES (2, 'after failover')");
    await waitFor(async () => (await other.sql('SELECT 1 FROM raft_e2e WHERE id = 2')).length === 1, 20_000, `the new row on ${other.name}`);

    // Two of three Raft members: still a quorum. A DCS write through either survivor commits and is
    // visible through the other.
    const patch = await other.get('/config', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ postgresql: { parameters: { work_mem: '5MB' } } }) });
    expect(patch.status).toBe(200);
    expect(patch.body.postgresql.parameters.work_mem).toBe('5MB');
    const seen = await waitFor(async () => {
      const { status, body } = await newLeader.get('/config');
      return status === 200 && body.postgresql?.parameters?.work_mem === '5MB' ? body : null;
    }, 10_000, 'the config change through the other survivor');
    expect(seen.ttl).toBe(20);
    // The dead member's key expired out of the DCS.
    await waitFor(async () => !(await members(newLeader)).some((m) => m.name === old.name), 40_000, `${old.name}'s member key to expire`);
    expect(failoverSeconds).toBeLessThan(90);
  }, 240_000);
});
