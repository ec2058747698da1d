/**
 * End to end on Consul (the emulator): 3 `pgha run` agents with PostgreSQL 15 bootstrap, write
 * Patroni's layout that Debian's patronictl 3.0.2 reads with the right leader, answer
 * `pgha -d consul://... list`, register their services, and fail over when the leader is killed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { runCtl } from '../ctl/run-ctl.js';
import { patronictlList, requirePatroni } from './patroni.js';

let cluster: TestCluster;
let patronictlConfig: string;

interface Row { Member: string; Role: string; State: string }

async function kvRows(): Promise<Array<{ Key: string; Value: string | null; Session?: string }>> {
  const res = await fetch(`${cluster.consul.url}/v1/kv/service/${cluster.scope}/?recurse`);
  return res.status === 404 ? [] : ((await res.json()) as Array<{ Key: string; Value: string | null; Session?: string }>);
}

const decode = (v: string | null) => (v ? Buffer.from(v, 'base64').toString('utf8') : '');

async function pghaList(): Promise<Row[]> {
  const r = await runCtl(['-d', `consul://${cluster.consul.hostPort}`, 'list', cluster.scope, '-f', 'json']);
  if (r.code !== 0) throw new Error(`pgha list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Row[];
}

async function write(node: TestNode, value: string): Promise<void> {
  await node.sql('CREATE TABLE IF NOT EXISTS e2e (v text)');
  await node.sql('INSERT INTO e2e VALUES ($1)', [value]);
}

describe('pgha on Consul (emulator), PostgreSQL 15', () => {
  beforeAll(async () => {
    requirePatroni();
    cluster = await TestCluster.start({ nodes: 3, dcs: { kind: 'consul', section: { register_service: true, service_check_interval: '1s', service_tags: ['pgha'] } } });
    patronictlConfig = join(cluster.root, 'patronictl.yml');
    writeFileSync(patronictlConfig, stringify({ scope: cluster.scope, namespace: '/service', consul: { host: cluster.consul.hostPort } }));
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('bootstraps in Patroni\'s layout; patronictl 3.0.2 and pgha -d consul:// both show the leader', async () => {
    const leader = await cluster.waitHealthy(2, 120_000);
    const rows = await kvRows();
    const byKey = new Map(rows.map((r) => [r.Key.slice(`service/${cluster.scope}/`.length), r]));
    expect(decode(byKey.get('leader')!.Value)).toBe(leader.name);
    const leaderSession = byKey.get('leader')!.Session;
    expect(leaderSession).toMatch(/^[0-9a-f-]{36}$/);
    expect(byKey.get(`members/${leader.name}`)!.Session).toBe(leaderSession);
    for (const n of ['node1', 'node2', 'node3']) expect(JSON.parse(decode(byKey.get(`members/${n}`)!.Value))).toHaveProperty('conn_url');
    expect(decode(byKey.get('initialize')!.Value)).toMatch(/^\d+$/);
    expect(JSON.parse(decode(byKey.get('config')!.Value))).toMatchObject({ ttl: 20 });
    // The session is Patroni's: TTL ttl/2, behaviour delete.
    const session = (await (await fetch(`${cluster.consul.url}/v1/session/info/${leaderSession}`)).json()) as Array<{ TTL: string; Behavior: string; Name: string }>;
    expect(session[0]).toMatchObject({ TTL: '10s', Behavior: 'delete', Name: `${cluster.scope}-${leader.name}` });

    let last: unknown = null;
    const pat = await waitFor(() => {
      const list = patronictlList(patronictlConfig);
      last = list;
      return list.filter((r) => r.Role === 'Replica' && ['running', 'streaming'].includes(String(r.State))).length === 2 ? list : null;
    }, 30_000, 'patronictl list with two running replicas').catch((e: Error) => { throw new Error(`${e.message}; last: ${JSON.stringify(last)}`); });
    expect(pat.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([leader.name]);
    const ours = await pghaList();
    expect(ours.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([leader.name]);
    expect(ours.map((r) => r.Member).sort()).toEqual(['node1', 'node2', 'node3']);

    // register_service: one service per member, tagged by role, passing its HTTP check on /<role>.
    const services = await waitFor(async () => {
      const list = (await (await fetch(`${cluster.consul.url}/v1/health/service/${cluster.scope}?passing`)).json()) as Array<{ Service: { ID: string; Tags: string[] } }>;
      return list.length === 3 ? list : null;
    }, 30_000, 'three passing services');
    const tags = new Map(services.map((s) => [s.Service.ID, s.Service.Tags]));
    expect(tags.get(`${cluster.scope}/${leader.name}`)).toEqual(expect.arrayContaining(['pgha', 'primary', 'master']));
    for (const n of cluster.nodes.filter((x) => x !== leader)) expect(tags.get(`${cluster.scope}/${n.name}`)).toEqual(expect.arrayContaining(['pgha', 'replica']));
  }, 180_000);

  it('fails over when the leader agent and postmaster are killed; patronictl sees the new leader', async () => {
    const leader = await cluster.waitHealthy(2);
    await write(leader, 'before-kill');
    const pm = leader.postmasterPid();
    expect(pm).not.toBeNull();
    leader.signalAgent('SIGKILL');
    process.kill(pm!, 'SIGKILL');
    await leader.proc!.exited;
    const t0 = Date.now();
    const next = await waitFor(async () => {
      const l = (await kvRows()).find((r) => r.Key.endsWith('/leader'));
      const name = l ? decode(l.Value) : null;
      return name && name !== leader.name ? cluster.node(name) : null;
    }, 90_000, 'a new leader key');
    // The old leader's session keeps the key until Consul expires it (2 × 10 s here).
    expect(Date.now() - t0).toBeGreaterThan(5_000);
    await waitFor(async () => (await next.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 60_000, `${next.name} promoted`);
    expect((await next.sql<{ c: string }>("SELECT count(*) AS c FROM e2e WHERE v = 'before-kill'"))[0]!.c).toBe('1');
    const rows = await waitFor(() => {
      const list = patronictlList(patronictlConfig);
      return list.some((r) => r.Role === 'Leader' && r.Member === next.name) ? list : null;
    }, 30_000, 'patronictl to show the new leader');
    expect(rows.filter((r) => r.Role === 'Leader')).toHaveLength(1);
    expect((await pghaList()).find((r) => r.Role === 'Leader')?.Member).toBe(next.name);
    await cluster.expectWritablePrimaries([next.name]);
    // The old primary comes back and rejoins as a replica.
    leader.start();
    expect((await cluster.waitHealthy(2, 120_000)).name).toBe(next.name);
  }, 240_000);

  it('SIGTERM of the primary agent hands over well before ttl (the leader key is deleted, the blocking query wakes the others)', async () => {
    const leader = await cluster.waitHealthy(2);
    const t0 = Date.now();
    leader.signalAgent('SIGTERM');
    const next = await waitFor(async () => {
      const l = (await kvRows()).find((r) => r.Key.endsWith('/leader'));
      const name = l ? decode(l.Value) : null;
      return name && name !== leader.name ? name : null;
    }, 20_000, 'a new leader after SIGTERM');
    expect(Date.now() - t0).toBeLessThan(12_000); // ttl is 20 s
    await leader.proc!.exited;
    expect(patronictlList(patronictlConfig).find((r) => r.Role === 'Leader')?.Member).toBe(next);
  }, 120_000);
});
