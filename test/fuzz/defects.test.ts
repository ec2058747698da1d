/**
 * Issue 22, live: each defect the probe of 749de2d found, replayed against 2 real agents (`pgha run`
 * as the unprivileged user) with PostgreSQL 15 on a real etcd. On 749de2d every scenario here fails:
 * the agents exit on a deep /config, an unreadable scheduled_at switches over, a data_dir edit plus
 * SIGHUP stops PostgreSQL, restapi changes are not applied, `watchdog not used` repeats every cycle.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/procs.js';

const AUTH = { username: 'admin', password: 'admin-secret' };
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
let cluster: TestCluster;
let etcd: Etcd3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (k: string) => `/service/${cluster.scope}/${k}`;

/** Both agents alive, exactly `leader` writable, and it still holds the leader key. */
async function unchanged(leader: TestNode, pmPid: number | null): Promise<void> {
  for (const n of cluster.nodes) expect(n.agentAlive(), `${n.name} agent alive; log:\n${n.log().slice(-3000)}`).toBe(true);
  await cluster.expectWritablePrimaries([leader.name]);
  expect(await cluster.leaderName()).toBe(leader.name);
  if (pmPid !== null) expect(leader.postmasterPid()).toBe(pmPid);
}

const count = (text: string, needle: string | RegExp) => text.split('\n').filter((l) => (typeof needle === 'string' ? l.includes(needle) : needle.test(l))).length;

async function editConfig(node: TestNode, edit: (c: Record<string, any>) => void): Promise<string> {
  const before = readFileSync(node.configPath, 'utf8');
  const c = parse(before) as Record<string, any>;
  edit(c);
  writeFileSync(node.configPath, stringify(c));
  node.signalAgent('SIGHUP');
  return before;
}

async function restoreConfig(node: TestNode, text: string): Promise<void> {
  writeFileSync(node.configPath, text);
  node.signalAgent('SIGHUP');
  await sleep(1500);
}

describe('issue 22 defects, live (etcd, PostgreSQL 15, 2 agents)', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 2, restapiAuth: AUTH });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints as string[] });
    await cluster.waitHealthy(1);
  }, 150_000);

  afterAll(async () => {
    etcd?.close();
    await cluster?.stop();
  }, 120_000);

  it('defect 1: a 10,000-deep /config (60 KB) is logged once and ends no agent; a deep PATCH gets 400', async () => {
    const leader = await cluster.waitHealthy(1);
    const pm = leader.postmasterPid();
    const good = (await etcd.get(key('config')).string())!;
    await etcd.put(key('config')).value('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
    await sleep(6000); // loop_wait 1: several cycles on both agents
    await unchanged(leader, pm);
    // Logged once where it was read, never once per cycle. (A replica whose view came from the
    // watch-fed cache was seen not to log it at all in some runs: to be investigated.)
    expect(count(leader.log(), 'malformed value in the DCS, /config: nested deeper than 64 levels')).toBe(1);
    for (const n of cluster.nodes) expect(count(n.log(), 'malformed value in the DCS, /config'), n.name).toBeLessThanOrEqual(1);
    const deep = '{"a":'.repeat(2500) + '1' + '}'.repeat(2500);
    const res = await fetch(`${leader.apiUrl}/config`, { method: 'PATCH', body: deep, headers: { Authorization: basic(AUTH.username, AUTH.password) } });
    expect(res.status).toBe(400);
    // A restarted agent survives the value too (on 749de2d it died again at once).
    const replica = cluster.nodes.find((n) => n !== leader)!;
    await replica.stopAgent();
    replica.start();
    await sleep(6000);
    await unchanged(leader, pm);
    await etcd.put(key('config')).value(good);
    await cluster.waitHealthy(1);
  }, 120_000);

  it('defect 2: an unreadable scheduled_at, from the API or in /failover, never switches over', async () => {
    const leader = await cluster.waitHealthy(1);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    const pm = leader.postmasterPid();
    for (const t of ['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z']) {
      const res = await fetch(`${leader.apiUrl}/switchover`, {
        method: 'POST', headers: { Authorization: basic(AUTH.username, AUTH.password), 'Content-Type': 'application/json' },
        body: JSON.stringify({ leader: leader.name, candidate: replica.name, scheduled_at: t }),
      });
      expect(res.status).toBe(422);
    }
    await etcd.put(key('failover')).value(JSON.stringify({ leader: leader.name, member: replica.name, scheduled_at: '2099-01-01T10:00:00+99:99' }));
    await sleep(5000);
    await unchanged(leader, pm);
    expect(count(leader.log(), /malformed value in the DCS, \/failover: invalid scheduled_at/)).toBe(1);
    await etcd.delete().key(key('failover'));
  }, 60_000);

  it('defect 4: data_dir, bin_dir and the port of a running postmaster change only at restart; the rest applies', async () => {
    const leader = await cluster.waitHealthy(1);
    const pm = leader.postmasterPid();
    const original = await editConfig(leader, (c) => {
      c.postgresql.data_dir = `${c.postgresql.data_dir}-moved`;
      c.postgresql.bin_dir = '/usr/lib/postgresql/15/bin/';
      c.postgresql.listen = c.postgresql.listen.replace(/:\d+$/, ':5999');
      c.tags = { custom: 'reloaded' };
    });
    await sleep(5000); // on 749de2d PostgreSQL was stopped (immediate) and the leader key released here
    await unchanged(leader, pm);
    const log = leader.log();
    for (const p of ['postgresql.data_dir', 'postgresql.bin_dir', 'postgresql.listen']) expect(log).toMatch(new RegExp(`${p.replace('.', '\\.')} changed from .*takes effect when pgha restarts`));
    await waitFor(async () => (await leader.get('/patroni')).body?.tags?.custom === 'reloaded', 10_000, 'new tags to be published');
    await restoreConfig(leader, original);
    await unchanged(leader, pm);
  }, 60_000);

  it('defect 5: restapi auth and listen are re-applied on reload; invalid values are refused and the old ones kept', async () => {
    const leader = await cluster.waitHealthy(1);
    const node = cluster.nodes.find((n) => n !== leader)!;
    const pm = leader.postmasterPid();
    const del = (url: string, password: string) => fetch(`${url}/switchover`, { method: 'DELETE', headers: { Authorization: basic(AUTH.username, password) }, signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
    const newPort = await freePort();
    const newUrl = `http://127.0.0.1:${newPort}`;
    const original = await editConfig(node, (c) => {
      c.restapi.authentication.password = 'rotated-secret';
      c.restapi.listen = `127.0.0.1:${newPort}`;
      c.restapi.connect_address = `127.0.0.1:${newPort}`;
    });
    await waitFor(async () => (await del(newUrl, 'rotated-secret')) === 404, 15_000, 'the new listen address and password');
    expect(await del(newUrl, AUTH.password)).toBe(401);
    expect(await del(node.apiUrl, AUTH.password)).toBe(0); // the old socket is closed
    const members = await waitFor(async () => {
      const m = (await leader.get('/cluster')).body.members.find((x: { name: string }) => x.name === node.name);
      return m?.api_url === `${newUrl}/patroni` ? m : null;
    }, 15_000, 'the member key to advertise the new api_url');
    expect(members.api_url).toBe(`${newUrl}/patroni`);

    // Invalid values: refused with the reason, the running configuration stays.
    for (const [path, value] of [['restapi.listen', '127.0.0.1:70000'], ['restapi.listen', 'not-an-address'], ['postgresql.listen', '127.0.0.1:70000']] as const) {
      const before = readFileSync(node.configPath, 'utf8');
      const logBefore = node.log().length;
      await editConfig(node, (c) => {
        const [s, k] = path.split('.') as [string, string];
        c[s][k] = value;
      });
      await waitFor(() => /reload failed/.test(node.log().slice(logBefore)), 10_000, `reload of ${path}=${value} to be refused`);
      expect(node.log().slice(logBefore)).toContain(path);
      expect(node.log().slice(logBefore)).not.toContain('configuration reloaded');
      expect(await del(newUrl, 'rotated-secret')).toBe(404);
      writeFileSync(node.configPath, before);
    }
    await restoreConfig(node, original);
    await waitFor(async () => (await del(node.apiUrl, AUTH.password)) === 404, 15_000, 'the original address and password');
    await unchanged(leader, pm);
  }, 90_000);

  it('defect 8: `watchdog not used` is logged once, not every cycle', async () => {
    for (const n of cluster.nodes) expect(count(n.log(), 'watchdog not used'), n.name).toBeLessThanOrEqual(1);
  });
});
