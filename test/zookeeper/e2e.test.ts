/**
 * End to end on ZooKeeper: 3 real agents (`pgha run`, as the unprivileged user) with PostgreSQL 15
 * on a real ZooKeeper 3.8. Checks Patroni's znode layout byte for byte, that Debian's patronictl
 * (Patroni 3.0.2 with kazoo) and `pgha -d zookeeper://` read the cluster, and that freezing the
 * primary's agent lets its session (and so its ephemeral leader znode) expire, after which a
 * replica's agent takes over.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { probeWritable } from '../helpers/probe.js';
import { waitFor } from '../helpers/procs.js';
import { startZookeeper, zk, type ZkEnsemble } from '../helpers/zookeeper.js';
import { runCtl } from '../ctl/run-ctl.js';

const PATRONICTL = '/usr/bin/patronictl';
let cluster: TestCluster;
let ensemble: ZkEnsemble;
let raw: Client;

function patronictl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PATRONICTL, args, { timeout: 60_000, env: { ...process.env, LOGLEVEL: 'WARNING' } }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The cluster as Debian's patronictl lists it: member -> role/state. */
async function patroniList(): Promise<Array<{ Member: string; Role: string; State: string; Cluster: string; 'Lag in MB'?: number }>> {
  const cfg = join(cluster.root, 'patronictl.yml');
  writeFileSync(cfg, stringify({ scope: cluster.scope, namespace: '/service/', zookeeper: { hosts: [...cluster.zookeeper.hosts] } }));
  const r = await patronictl(['-c', cfg, 'list', '-f', 'json']);
  if (r.code !== 0) throw new Error(`patronictl list failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function write(node: TestNode, value: string): Promise<void> {
  await node.sql('CREATE TABLE IF NOT EXISTS e2e (v text)');
  await node.sql('INSERT INTO e2e VALUES ($1)', [value]);
}

const base = () => `/service/${cluster.scope}`;

describe('HA agents end to end on ZooKeeper (PostgreSQL 15)', () => {
  beforeAll(async () => {
    // A 3-member ensemble, so one scenario can kill its quorum leader under the running agents.
    ensemble = await startZookeeper({ members: 3 });
    cluster = await TestCluster.start({ nodes: 3, dcs: { kind: 'zookeeper', zookeeper: ensemble } });
    raw = await cluster.zookeeper.rawClient();
  }, 120_000);

  afterAll(async () => {
    if (raw) await zk.close(raw);
    await cluster?.stop();
    await ensemble?.stop();
  }, 120_000);

  it('bootstraps one leader and two streaming replicas', async () => {
    const leader = await cluster.waitHealthy(2);
    await cluster.expectWritablePrimaries([leader.name]);
    await write(leader, 'bootstrap');
    await waitFor(async () => {
      const b = (await leader.get('/cluster')).body;
      return b.members.filter((m: { state: string }) => m.state === 'streaming').length === 2;
    }, 30_000, 'both replicas reported as streaming in /cluster');
  }, 150_000);

  it("writes Patroni's znode layout: ephemeral leader and members of the agents' sessions, persistent keys", async () => {
    const leader = await cluster.waitHealthy(2);
    const children = (await zk.children(raw, base())).sort();
    expect(children).toEqual(expect.arrayContaining(['config', 'initialize', 'leader', 'members', 'status']));
    const sysid = (await leader.sql<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;
    expect((await zk.getData(raw, `${base()}/initialize`))!).toMatchObject({ data: sysid, ephemeralOwner: '0000000000000000' });

    const lock = (await zk.getData(raw, `${base()}/leader`))!;
    expect(lock.data).toBe(leader.name);
    expect(lock.ephemeralOwner).not.toBe('0000000000000000');

    expect((await zk.children(raw, `${base()}/members`)).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const n of cluster.nodes) {
      const m = (await zk.getData(raw, `${base()}/members/${n.name}`))!;
      expect(m.ephemeralOwner).not.toBe('0000000000000000');
      const v = JSON.parse(m.data);
      expect(v).toMatchObject({
        conn_url: `postgres://127.0.0.1:${n.pgPort}/postgres`, api_url: `http://127.0.0.1:${n.apiPort}/patroni`,
        role: n === leader ? 'primary' : 'replica', state: 'running',
        ...(n === leader ? {} : { replication_state: 'streaming' }),
      });
      // The leader's member znode and its lock belong to the same session.
      if (n === leader) expect(m.ephemeralOwner).toBe(lock.ephemeralOwner);
    }
    const config = (await zk.getData(raw, `${base()}/config`))!;
    expect(config.ephemeralOwner).toBe('0000000000000000');
    expect(JSON.parse(config.data)).toMatchObject({ ttl: 20, loop_wait: 1, retry_timeout: 5 });
    const status = JSON.parse((await zk.getData(raw, `${base()}/status`))!.data);
    expect(typeof status.optime).toBe('number');
  });

  it("Debian's patronictl (Patroni 3.0.2, kazoo) and `pgha -d zookeeper://` list the cluster with its leader", async () => {
    const leader = await cluster.waitHealthy(2);
    let last: unknown = null;
    const rows = await waitFor(async () => {
      const r = await patroniList();
      last = r;
      // Patroni 3.0.2 shows a streaming replica as `running` (the `streaming` state came with 3.1).
      return r.length === 3 && r.every((x) => x.State === 'running') ? r : null;
    }, 30_000, 'patronictl to show three running members').catch((e: Error) => { throw new Error(`${e.message}; last: ${JSON.stringify(last)}`); });
    expect(rows.map((r) => r.Member).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(rows.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([leader.name]);
    expect(rows.every((r) => r.Cluster === cluster.scope)).toBe(true);
    for (const r of rows.filter((x) => x.Role === 'Replica')) expect(typeof r['Lag in MB']).toBe('number');

    // And the other way round: patronictl's version-CAS write of /config reaches pgha's agents.
    const cfg = join(cluster.root, 'patronictl.yml');
    const edit = await patronictl(['-c', cfg, 'edit-config', cluster.scope, '--force', '-s', 'maximum_lag_on_failover=2097152']);
    expect(edit.code, edit.stderr).toBe(0);
    await waitFor(async () => (await leader.get('/config')).body.maximum_lag_on_failover === 2097152, 20_000, 'the agents to see patronictl\'s config change');

    const url = `zookeeper://${cluster.zookeeper.hosts[0]}/service`;
    const ctl = await runCtl(['-d', url, 'list', cluster.scope, '-f', 'json'], { env: { PATRONICTL_CONFIG_FILE: '' } });
    expect(ctl.code, ctl.stderr).toBe(0);
    const ours = JSON.parse(ctl.stdout) as Array<{ Member: string; Role: string }>;
    expect(ours.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([leader.name]);
    expect(ours).toHaveLength(3);
  }, 90_000);

  it("the ZooKeeper quorum leader dies: sessions move to the survivors, the primary keeps its lock, nothing fails over", async () => {
    const leader = await cluster.waitHealthy(2);
    const lock = (await zk.getData(raw, `${base()}/leader`))!;
    const zkLeader = await ensemble.leaderIndex();
    await ensemble.kill(zkLeader);
    await ensemble.waitHealthy(30_000);
    // Several HA cycles on the surviving pair (loop_wait 1 s), well under ttl (20 s).
    await new Promise((r) => setTimeout(r, 8000));
    const after = await waitFor(() => zk.getData(raw, `${base()}/leader`).catch(() => null), 15_000, 'the leader znode through the survivors');
    expect(after).toMatchObject({ data: leader.name, ephemeralOwner: lock.ephemeralOwner });
    await cluster.expectWritablePrimaries([leader.name]);
    await write(leader, 'after-zk-leader-death');
    expect((await cluster.waitHealthy(2)).name).toBe(leader.name);
  }, 90_000);

  it('SIGTERM of the primary agent releases the leader znode: a replica takes over well before ttl', async () => {
    const leader = await cluster.waitHealthy(2);
    const t0 = Date.now();
    leader.signalAgent('SIGTERM');
    const next = await waitFor(async () => {
      const now = await zk.getData(raw, `${base()}/leader`);
      return now && now.data !== leader.name ? now.data : null;
    }, 15_000, 'a new leader znode after SIGTERM');
    expect(Date.now() - t0).toBeLessThan(10_000); // ttl is 20 s
    await leader.proc!.exited;
    // Restarted within its old session's timeout, it replaces the member znode that session left.
    leader.start();
    const healthy = await cluster.waitHealthy(2);
    expect(healthy.name).toBe(next);
    await waitFor(async () => {
      const m = await zk.getData(raw, `${base()}/members/${leader.name}`);
      return m && JSON.parse(m.data).state === 'running' && m.ephemeralOwner !== (await zk.getData(raw, `${base()}/leader`))?.ephemeralOwner;
    }, 30_000, 'the restarted agent to publish its member znode');
  }, 120_000);

  it("a frozen primary agent's session expires: its leader znode goes, a replica takes over, the old primary rejoins", async () => {
    const leader = await cluster.waitHealthy(2);
    await write(leader, 'before-freeze');
    const lock = (await zk.getData(raw, `${base()}/leader`))!;
    // The fence (counting from leaderLeaseSentAt) must stop the frozen primary's PostgreSQL before
    // ZooKeeper drops the znode: never two writable primaries in any sample.
    const probe = probeWritable(cluster);
    const t0 = Date.now();
    leader.signalAgent('SIGSTOP');
    try {
      // ttl is 20 s: the session outlives the freeze by no more than that (plus the server's tick).
      const gone = await waitFor(async () => {
        const now = await zk.getData(raw, `${base()}/leader`);
        return !now || now.ephemeralOwner !== lock.ephemeralOwner ? Date.now() : null;
      }, 60_000, 'the frozen leader\'s znode to disappear', 100);
      expect(gone - t0).toBeGreaterThan(15_000);
      const next = await waitFor(async () => {
        const now = await zk.getData(raw, `${base()}/leader`);
        return now && now.data !== leader.name ? now.data : null;
      }, 60_000, 'a replica to take the leader znode');
      const newLeader = cluster.node(next);
      await waitFor(async () => (await newLeader.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 60_000, `${next} promoted`);
      // The probe (every 100 ms) must see the new primary take a write before it stops.
      await waitFor(() => probe.samples.some((x) => x.writable.length === 1 && x.writable[0] === next) || null, 10_000, `a probe write on ${next}`);
      expect((await zk.getData(raw, `${base()}/members/${leader.name}`))).toBeNull();
    } finally {
      leader.signalAgent('SIGCONT');
      await probe.stop();
    }
    expect(probe.samples.length).toBeGreaterThan(50);
    expect(probe.samples.filter((x) => x.writable.length > 1)).toEqual([]);
    expect(probe.samples.some((x) => x.writable.length === 1 && x.writable[0] !== leader.name)).toBe(true);
    // Thawed, the old primary finds its session gone and someone else leading: it rejoins as a replica.
    const healthy = await cluster.waitHealthy(2, 120_000);
    expect(healthy.name).not.toBe(leader.name);
    await cluster.expectWritablePrimaries([healthy.name]);
    const rows = await patroniList();
    expect(rows.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([healthy.name]);
  }, 240_000);
});
