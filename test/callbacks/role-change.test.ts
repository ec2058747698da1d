/**
 * Callbacks, pre_promote and before_stop end to end (etcd, PostgreSQL 15, 3 `pgha run` agents).
 * Every node records each callback it runs (relative script paths, the agent's working directory).
 * A switchover and a failover follow; the records must show every role transition on every node:
 * the new primary `on_role_change primary` after its pre_promote, the old primary `before_stop` then
 * `on_role_change replica`, and nothing of the kind on a node whose role never changed. During the
 * failover the only candidate's pre_promote fails once: it releases the lock at once, backs off for
 * a ttl without running the script again, and promotes when allowed. PATRONI_* variables the agent
 * read are gone from the environment of callbacks and of PostgreSQL.
 */
import { existsSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERUSER, TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { testUser } from '../helpers/user.js';

let cluster: TestCluster;
const CB = 'echo "$(date +%s%N) $1 $2 $3 env=$(env | grep -c ^PATRONI_)" >> callbacks.log';
const PRE = 'echo "$(date +%s%N) pre_promote" >> callbacks.log; test ! -e deny-promote';
const STOP = 'echo "$(date +%s%N) before_stop" >> callbacks.log';

function records(n: TestNode): string[] {
  const f = join(n.dir, 'callbacks.log');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\d+ /, '').replace(` ${cluster.scope}`, '')) : [];
}
const roleChanges = (n: TestNode, from = 0) => records(n).slice(from).map((r) => r.replace(/ env=\d+$/, ''))
  .filter((r) => r.startsWith('on_role_change') || r === 'pre_promote' || r === 'before_stop');

describe('callbacks across a switchover and a failover', () => {
  beforeAll(async () => {
    // Read by the agents (the superuser password), then removed from their environment.
    process.env.PATRONI_SUPERUSER_PASSWORD = SUPERUSER.password;
    try {
      cluster = await TestCluster.start({
        // node3 never promotes: the failover has exactly one candidate.
        nodes: [{}, {}, { tags: { nofailover: true } }],
        postgresql: {
          callbacks: Object.fromEntries(['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'].map((a) => [a, 'sh cb.sh'])),
          pre_promote: 'sh pre-promote.sh', before_stop: 'sh before-stop.sh',
        },
        prepare: (dir) => {
          const u = testUser();
          for (const [f, body] of [['cb.sh', CB], ['pre-promote.sh', PRE], ['before-stop.sh', STOP]] as const) {
            writeFileSync(join(dir, f), `${body}\n`);
            if (u) chownSync(join(dir, f), u.uid, u.gid);
          }
        },
      });
    } finally {
      delete process.env.PATRONI_SUPERUSER_PASSWORD;
    }
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('records every transition on every node; pre_promote failure releases the lock and backs off', async () => {
    const first = await cluster.waitHealthy(2, 120_000);
    const candidate = cluster.nodes.find((n) => n !== first && n.name !== 'node3')!;
    const node3 = cluster.node('node3');
    await waitFor(() => records(node3).some((r) => r.startsWith('on_start replica')), 30_000, 'node3 on_start');
    const mark = new Map(cluster.nodes.map((n) => [n.name, records(n).length]));

    // Switchover: the candidate promotes, the old primary stops (before_stop) and comes back as a replica.
    await cluster.waitCaughtUp(first, candidate.name);
    const res = await fetch(`${first.apiUrl}/switchover`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ leader: first.name, candidate: candidate.name }),
    });
    expect(res.status, await res.text()).toBe(200);
    expect((await cluster.waitHealthy(2, 90_000)).name).toBe(candidate.name);
    await waitFor(() => roleChanges(first, mark.get(first.name)).includes('on_role_change replica'), 30_000, `${first.name} on_role_change replica`);
    expect(roleChanges(candidate, mark.get(candidate.name))).toEqual(['pre_promote', 'on_role_change primary']);
    expect(roleChanges(first, mark.get(first.name))).toEqual(['before_stop', 'on_role_change replica']);
    expect(roleChanges(node3, mark.get('node3'))).toEqual([]);

    // Failover: the primary dies; the only candidate's pre_promote refuses once.
    writeFileSync(join(first.dir, 'deny-promote'), '');
    const failMark = new Map(cluster.nodes.map((n) => [n.name, records(n).length]));
    const pm = candidate.postmasterPid();
    expect(pm).not.toBeNull();
    candidate.signalAgent('SIGKILL');
    process.kill(pm!, 'SIGKILL');
    await waitFor(() => first.log().includes('Promotion cancelled because the pre-promote script failed'), 90_000, `${first.name} to refuse the promotion`);
    const refusedAt = Date.now();
    // The lock is given up at once (not kept while the script runs again every cycle).
    await waitFor(async () => (await cluster.leaderName()) === null, 10_000, 'the leader key released');
    // It stays out of the race, saying why (GET /patroni shows the decision), without running the script again.
    await waitFor(async () => String((await first.get('/patroni')).body?.decision?.reason ?? '').includes('backoff: skip leader race after pre_promote script failure'),
      10_000, `${first.name} backing off`);
    await new Promise((r) => setTimeout(r, 6000));
    expect(roleChanges(first, failMark.get(first.name))).toEqual(['pre_promote']);
    rmSync(join(first.dir, 'deny-promote'));
    await waitFor(() => roleChanges(first, failMark.get(first.name)).includes('on_role_change primary'), 90_000, `${first.name} to promote after the backoff`);
    // Backoff is ttl (20 s) from the refusal.
    expect(Date.now() - refusedAt).toBeGreaterThan(10_000);
    expect(roleChanges(first, failMark.get(first.name))).toEqual(['pre_promote', 'pre_promote', 'on_role_change primary']);
    // As Patroni's, on_role_change runs once `pg_ctl promote` is sent; recovery ends a moment later.
    await waitFor(async () => (await first.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r === false, 30_000, `${first.name} out of recovery`);
    expect(roleChanges(node3, failMark.get('node3'))).toEqual([]);

    // Every callback ran without the PATRONI_ variables, and so does PostgreSQL.
    for (const n of cluster.nodes) {
      expect(records(n).length).toBeGreaterThan(0);
      for (const r of records(n).filter((x) => x.startsWith('on_'))) expect(r, `${n.name}: ${r}`).toMatch(/ env=0$/);
    }
    const environ = readFileSync(`/proc/${first.postmasterPid()}/environ`, 'utf8');
    expect(environ).not.toContain('PATRONI_');
  }, 300_000);

  it('an agent that finds PostgreSQL running announces it once with on_start (Patroni\'s first cycle)', async () => {
    const node3 = cluster.node('node3');
    const live = cluster.nodes.find((n) => n.agentAlive())!;
    const patch = async (pause: boolean) => expect((await live.get('/config', { method: 'PATCH', body: JSON.stringify({ pause }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    await patch(true);
    await waitFor(async () => (await node3.get('/patroni')).body?.pause === true, 20_000, 'node3 paused');
    // In pause a stopping agent leaves PostgreSQL running.
    await node3.stopAgent();
    const pm = node3.postmasterPid();
    expect(pm).not.toBeNull();
    const mark = records(node3).length;
    node3.start();
    await waitFor(() => records(node3).slice(mark).some((r) => r.startsWith('on_start replica')), 30_000, 'node3 on_start after the agent restart');
    expect(node3.postmasterPid()).toBe(pm);
    await new Promise((r) => setTimeout(r, 3000));
    expect(records(node3).slice(mark).filter((r) => r.startsWith('on_start'))).toHaveLength(1);
    await patch(false);
  }, 120_000);
});
