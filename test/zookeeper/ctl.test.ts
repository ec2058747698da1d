/**
 * ctl mode on ZooKeeper, without PostgreSQL: `pgha -d zookeeper://host:port` reads a cluster the
 * drivers wrote (and edits its config) with a session that owns nothing, and `pgha plugins` lists
 * the plugin and checks a configuration's zookeeper section the way the agent would pick it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ZookeeperDriver } from '@pgha/dcs-zookeeper';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCtl } from '../ctl/run-ctl.js';
import { zk } from '../helpers/zookeeper.js';
import { driverFor, testContext, uniqueScope, useZookeeper } from './harness.js';

const server = useZookeeper(1);
const scope = uniqueScope('ctl');
const agents: ZookeeperDriver[] = [];
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-zkctl-'));
  for (const name of ['node1', 'node2']) {
    const d = await driverFor(testContext(name, scope, { ttl: 30, retryTimeout: 5 }), { hosts: [...server().hosts] });
    agents.push(d);
    const port = name === 'node1' ? 5432 : 5433;
    await d.touchMember({ conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: `http://127.0.0.1:${port + 3576}/patroni`, state: 'running', role: name === 'node1' ? 'primary' : 'replica', version: '4.0.0', timeline: 1 });
  }
  expect(await agents[0]!.initialize(true, '7268616322854375442')).toBe(true);
  expect(await agents[0]!.setConfigValue(JSON.stringify({ ttl: 30, loop_wait: 10, retry_timeout: 10 }))).toBe(true);
  expect(await agents[0]!.attemptToAcquireLeader()).toBe(true);
});

afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('pgha ctl with -d zookeeper://', () => {
  it('lists the cluster with its leader, and shows and edits its configuration', async () => {
    const url = `zookeeper://${server().hosts[0]}/service`;
    const env = { PATRONICTL_CONFIG_FILE: '' };
    const list = await runCtl(['-d', url, 'list', scope, '-f', 'json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as Array<{ Member: string; Role: string; Cluster: string }>;
    expect(rows.map((r) => [r.Member, r.Role])).toEqual([['node1', 'Leader'], ['node2', 'Replica']]);
    const pretty = await runCtl(['-d', url, 'list', scope], { env });
    expect(pretty.stdout.split('\n')[0]).toContain(`Cluster: ${scope} (7268616322854375442)`);

    const show = await runCtl(['-d', url, 'show-config', scope], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('loop_wait: 10');
    const edit = await runCtl(['-d', url, 'edit-config', scope, '--force', '-s', 'loop_wait=5'], { env });
    expect(edit.code, edit.stderr).toBe(0);
    const raw = await server().rawClient();
    try {
      const config = (await zk.getData(raw, `/service/${scope}/config`))!;
      expect(JSON.parse(config.data)).toMatchObject({ loop_wait: 5, ttl: 30 });
      // ctl owned no ephemeral znode; the agents' keys are untouched.
      expect((await zk.getData(raw, `/service/${scope}/leader`))!).toMatchObject({ data: 'node1', ephemeralOwner: agents[0]!.sessionId });
      expect((await zk.children(raw, `/service/${scope}/members`)).sort()).toEqual(['node1', 'node2']);
    } finally {
      await zk.close(raw);
    }
  }, 60_000);

  it('an unreachable ZooKeeper is an error within retry_timeout, not a hang', async () => {
    const t0 = Date.now();
    const r = await runCtl(['-d', 'zookeeper://127.0.0.1:1/service', 'list', scope], { env: { PATRONICTL_CONFIG_FILE: '' } });
    expect(r.code).not.toBe(0);
    // ctl's default retry_timeout is 10 s (plus node start-up).
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 60_000);
});

describe('pgha plugins', () => {
  it('lists the zookeeper plugin as installed and selects a valid zookeeper section', async () => {
    const list = await runCtl(['plugins']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^dcs\s+zookeeper\s+@pgha\/dcs-zookeeper\s+0\.1\.0\s+builtin\s+installed$/m);
    const good = join(dir, 'good.yml');
    writeFileSync(good, stringify({ scope: 'x', name: 'n', zookeeper: { hosts: [...server().hosts] } }));
    const ok = await runCtl(['plugins', '-c', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/zookeeper: ok, selected: @pgha\/dcs-zookeeper 0\.1\.0 loaded, configuration valid/);
  });

  it('refuses a zookeeper section it cannot honour, naming the key', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, stringify({ scope: 'x', name: 'n', zookeeper: { hosts: 'h:2181', use_ssl: true, set_acls: { 'CN=x': ['ALL'] } } }));
    const r = await runCtl(['plugins', '-c', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('zookeeper.use_ssl: TLS is not supported');
    expect(r.stdout + r.stderr).toContain('zookeeper.set_acls: x509 ACLs need TLS');
  });
});
