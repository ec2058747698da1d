/**
 * End to end: 3 real agents (`pgha run`, as the unprivileged user) with PostgreSQL 15 on a real etcd.
 * One cluster for the whole file; the scenarios run in order and each leaves a healthy cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';

const AUTH = 'Basic ' + Buffer.from('admin:admin-secret').toString('base64');
let cluster: TestCluster;

async function write(node: TestNode, value: string): Promise<void> {
  await node.sql('CREATE TABLE IF NOT EXISTS e2e (v text)');
  await node.sql('INSERT INTO e2e VALUES ($1)', [value]);
}

async function replicasHave(leader: TestNode, value: string): Promise<void> {
  for (const n of cluster.nodes.filter((x) => x !== leader)) {
    await waitFor(async () => (await n.sql<{ c: string }>('SELECT count(*) AS c FROM e2e WHERE v = $1', [value]))[0]?.c === '1', 30_000, `${n.name} to replay ${value}`);
  }
}

describe('HA agent end to end (etcd, PostgreSQL 15)', () => {
  beforeAll(async () => {
    // Write endpoints need credentials on every node.
    cluster = await TestCluster.start({ nodes: 3, restapiAuth: { username: 'admin', password: 'admin-secret' } });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('bootstraps one leader and two streaming replicas; writes reach the replicas', async () => {
    const leader = await cluster.waitHealthy(2);
    await cluster.expectWritablePrimaries([leader.name]);
    await write(leader, 'bootstrap');
    await replicasHave(leader, 'bootstrap');
    // Members publish `streaming` with their next member-key write, a cycle after pg_stat_replication shows it.
    const body = await waitFor(async () => {
      const b = (await leader.get('/cluster')).body;
      return b.members.filter((m: { state: string }) => m.state === 'streaming').length === 2 ? b : null;
    }, 15_000, 'both replicas reported as streaming in /cluster');
    expect(body.members.map((m: { role: string }) => m.role).sort()).toEqual(['leader', 'replica', 'replica']);
  }, 150_000);

  it('answers health checks like Patroni on primary and replica', async () => {
    const leader = await cluster.waitHealthy(2);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    expect((await leader.get('/primary')).status).toBe(200);
    expect((await leader.get('/leader')).status).toBe(200);
    expect((await leader.get('/replica')).status).toBe(503);
    expect((await replica.get('/primary')).status).toBe(503);
    expect((await replica.get('/replica')).status).toBe(200);
    expect((await replica.get('/read-only')).status).toBe(200);
    expect((await replica.get('/health')).status).toBe(200);
    expect((await replica.get('/replica?lag=1MB')).status).toBe(200);
    const res = await fetch(`${replica.apiUrl}/primary`, { method: 'HEAD' });
    expect(res.status).toBe(503);
    const { body } = await leader.get('/patroni');
    expect(body).toMatchObject({ state: 'running', role: 'primary', patroni: { scope: cluster.scope, name: leader.name } });
    expect(typeof body.xlog.location).toBe('number');
  });

  it('refuses write endpoints without credentials', async () => {
    const leader = await cluster.waitHealthy(2);
    const res = await fetch(`${leader.apiUrl}/switchover`, { method: 'POST', body: JSON.stringify({ leader: leader.name }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    const bad = await fetch(`${leader.apiUrl}/config`, { method: 'PATCH', body: '{not json', headers: { authorization: AUTH } });
    expect(bad.status).toBe(400);
  });

  it('switches over through POST /switchover', async () => {
    const leader = await cluster.waitHealthy(2);
    const candidate = cluster.nodes.find((n) => n !== leader)!;
    const res = await fetch(`${leader.apiUrl}/switchover`, {
      method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leader.name, candidate: candidate.name }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).toContain(`Successfully switched over to "${candidate.name}"`);
    const now = await cluster.waitHealthy(2);
    expect(now.name).toBe(candidate.name);
    await write(now, 'after-switchover');
    await replicasHave(now, 'after-switchover');
  }, 120_000);

  it('SIGTERM of the primary agent hands over well before ttl', async () => {
    const leader = await cluster.waitHealthy(2);
    const t0 = Date.now();
    leader.signalAgent('SIGTERM');
    const next = await waitFor(async () => {
      const name = await cluster.leaderName();
      return name && name !== leader.name ? name : null;
    }, 15_000, 'a new leader after SIGTERM');
    expect(Date.now() - t0).toBeLessThan(10_000); // ttl is 20 s
    await leader.proc!.exited;
    leader.start();
    const healthy = await cluster.waitHealthy(2);
    expect(healthy.name).toBe(next);
  }, 120_000);

  it('SIGKILL of the primary agent and postmaster: a replica is promoted, the other follows, the old primary rejoins with pg_rewind', async () => {
    const leader = await cluster.waitHealthy(2);
    await write(leader, 'before-crash');
    await replicasHave(leader, 'before-crash');
    const pm = leader.postmasterPid();
    expect(pm).not.toBeNull();
    leader.signalAgent('SIGKILL');
    process.kill(pm!, 'SIGKILL');
    await leader.proc!.exited;
    const survivors = cluster.nodes.filter((n) => n !== leader);
    const newLeader = await waitFor(async () => {
      const name = await cluster.leaderName();
      return name && name !== leader.name ? cluster.node(name) : null;
    }, 60_000, 'a replica to be promoted');
    expect(survivors).toContain(newLeader);
    const other = survivors.find((n) => n !== newLeader)!;
    await waitFor(async () => (await newLeader.sql("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [other.name])).length === 1,
      60_000, `${other.name} to stream from ${newLeader.name}`);
    await write(newLeader, 'after-crash');
    // The old primary comes back: it diverged (its timeline ended where the new leader forked) and rejoins.
    leader.start();
    const healthy = await cluster.waitHealthy(2, 120_000);
    expect(healthy.name).toBe(newLeader.name);
    await replicasHave(newLeader, 'after-crash');
    await cluster.expectWritablePrimaries([newLeader.name]);
  }, 240_000);

  it('in pause a killed postmaster is not restarted and nothing fails over', async () => {
    const leader = await cluster.waitHealthy(2);
    const res = await fetch(`${leader.apiUrl}/config`, {
      method: 'PATCH', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ pause: true }),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await leader.get('/patroni')).body.pause === true, 20_000, 'pause to take effect');
    const replica = cluster.nodes.find((n) => n !== leader)!;
    const pm = replica.postmasterPid()!;
    process.kill(pm, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 8000));
    expect(replica.postmasterPid()).toBeNull();
    expect(await cluster.leaderName()).toBe(leader.name);
    expect((await replica.get('/patroni')).body.state).not.toBe('running');
    const resume = await fetch(`${leader.apiUrl}/config`, {
      method: 'PATCH', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ pause: null }),
    });
    expect(resume.status).toBe(200);
    // After resume the agent starts its PostgreSQL again.
    await cluster.waitHealthy(2, 60_000);
  }, 120_000);

  it('applies a dynamic parameter change from /config to every PostgreSQL with a reload', async () => {
    const leader = await cluster.waitHealthy(2);
    const res = await fetch(`${leader.apiUrl}/config`, {
      method: 'PATCH', headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ postgresql: { parameters: { work_mem: '7MB' } } }),
    });
    expect(res.status).toBe(200);
    for (const n of cluster.nodes) {
      await waitFor(async () => (await n.sql<{ work_mem: string }>('SHOW work_mem'))[0]?.work_mem === '7MB', 30_000, `work_mem on ${n.name}`);
    }
    await cluster.waitHealthy(2);
  }, 90_000);

  it('runs a scheduled restart when it is due', async () => {
    const leader = await cluster.waitHealthy(2);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    const before = replica.postmasterPid();
    const at = new Date(Date.now() + 3000).toISOString().replace('Z', '+00:00');
    const res = await fetch(`${replica.apiUrl}/restart`, {
      method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ schedule: at }),
    });
    expect(res.status, await res.text()).toBe(202);
    expect((await replica.get('/patroni')).body.scheduled_restart).toBeDefined();
    await waitFor(() => { const pid = replica.postmasterPid(); return pid !== null && pid !== before; }, 30_000, 'the postmaster to be restarted');
    await cluster.waitHealthy(2, 60_000);
    expect((await replica.get('/patroni')).body.scheduled_restart).toBeUndefined();
  }, 90_000);
});
