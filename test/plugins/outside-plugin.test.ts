/**
 * Third-party plugins for real: pgha-plugin-leastloaded (examples/plugins, not a workspace member)
 * is built, `npm pack`ed and installed next to @pgha/cli from tarballs into a fresh directory, with
 * two fixtures: pgha-plugin-classic (built for plugin API 1.0) and pgha-plugin-future (API 2.0).
 * A real 3-node cluster (PostgreSQL 15, the embedded Raft DCS) run by the installed pgha finds
 * them by name: the 1.0 plugin clones the first replica, the 2.0 one is refused with a message
 * naming it, its apiVersion and the supported range, and the third node clones from the
 * least-loaded replica instead of the primary (its backup_label says so).
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TestCluster, requirePostgresBinaries } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { userTempDir } from '../helpers/user.js';
import { REPO, installTarballs, packDir, packWorkspaces, tscBuild } from './packs.js';

const EXAMPLE = join(REPO, 'examples/plugins/pgha-plugin-leastloaded');
const FIXTURES = join(REPO, 'test/plugins/fixtures');
const REFUSAL = 'plugin pgha-plugin-future needs plugin API 2.0, which this pgha does not support (it supports plugin API 1.0–1.1)';

describe('a plugin outside the workspace, installed from tarballs, used by a 3-node cluster', () => {
  let root = '';
  let site = '';
  let cli = '';
  let cluster: TestCluster | null = null;

  beforeAll(() => {
    requirePostgresBinaries();
    root = userTempDir('plugin-site');
    const packs = join(root, 'packs');
    site = join(root, 'site');
    mkdirSync(packs);
    mkdirSync(site);
    tscBuild(EXAMPLE);
    const tarballs = [
      ...packWorkspaces(packs, ['@pgha/plugin-api', '@pgha/core', '@pgha/dcs-raft', '@pgha/cli']),
      packDir(EXAMPLE, packs), packDir(join(FIXTURES, 'pgha-plugin-classic'), packs), packDir(join(FIXTURES, 'pgha-plugin-future'), packs),
    ];
    installTarballs(site, tarballs);
    cli = join(site, 'node_modules/@pgha/cli/bin/pgha.js');
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    if (root && !process.env.PGHA_KEEP_TEST_DIRS) rmSync(root, { recursive: true, force: true });
  }, 120_000);

  it('the example\'s own tests pass (unit tests and the replica-method conformance kit)', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run'], { cwd: EXAMPLE, encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/Tests\s+7 passed \(7\)/);
  }, 240_000);

  it('installs real copies (no workspace links) and `pgha plugins` finds the plugins by name, refusing the 2.0 one', () => {
    for (const p of ['@pgha/core', '@pgha/plugin-api', '@pgha/cli', 'pgha-plugin-leastloaded']) {
      expect(lstatSync(join(site, 'node_modules', p)).isSymbolicLink(), p).toBe(false);
    }
    const r = spawnSync(process.execPath, [cli, 'plugins'], { cwd: site, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`replica  ${name} `)) ?? '';
    expect(row('leastloaded')).toMatch(/pgha-plugin-leastloaded\s+1\.0\.0\s+discovered\s+installed$/);
    expect(row('classic')).toMatch(/pgha-plugin-classic\s+1\.0\.0\s+discovered\s+installed$/);
    expect(row('future')).toContain(`refused: ${REFUSAL}`);
  });

  it('`pgha validate-config` reports the refused plugin and the example\'s schema errors by key path', () => {
    const config = join(site, 'bad.yml');
    writeFileSync(config, stringify({
      scope: 'v', name: 'n1', restapi: { listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008' },
      raft: { self_addr: '127.0.0.1:5010', partner_addrs: [], data_dir: join(site, 'raft') },
      postgresql: {
        listen: '127.0.0.1:5432', connect_address: '127.0.0.1:5432', data_dir: join(site, 'data'), bin_dir: '/usr/lib/postgresql/15/bin',
        authentication: { superuser: { username: 'postgres' }, replication: { username: 'r' } },
        create_replica_methods: ['future', 'leastloaded'], leastloaded: { max_rate: 'fast', probe_timeout: 1 },
      },
    }));
    const r = spawnSync(process.execPath, [cli, 'validate-config', config], { cwd: site, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`postgresql.create_replica_methods: future: ${REFUSAL}`);
    expect(r.stderr).toContain("postgresql.leastloaded.max_rate: expected a rate like '32M' or '800k'");
    expect(r.stderr).toContain('postgresql.leastloaded.probe_timeout: unknown key (known: max_rate, max_lag_bytes, probe_timeout_ms)');
  });

  it('clones with the API 1.0 plugin after refusing the 2.0 one, then from the least-loaded replica', async () => {
    cluster = await TestCluster.start({
      dcs: { kind: 'raft' }, cli,
      autostart: (n) => n !== 'node3',
      postgresqlFor: (n) => (n === 'node3'
        ? { create_replica_methods: ['leastloaded'], leastloaded: { max_rate: '500M', probe_timeout_ms: 3000 } }
        : { create_replica_methods: ['future', 'classic'] }),
    });
    const leader = await cluster.waitHealthy(1, 150_000);
    const replica = cluster.nodes.find((n) => n.name !== leader.name && n.name !== 'node3')!;
    // The replica's log: the 2.0 plugin refused with the reason, the 1.0 plugin used.
    expect(replica.log()).toContain(`replica creation method future unavailable: ${REFUSAL}`);
    expect(replica.log()).toContain('classic (plugin API 1.0) cloning with pg_basebackup');
    expect(readFileSync(join(replica.dataDir, 'backup_label.old'), 'utf8')).toContain('BACKUP FROM: primary');

    const node3 = cluster.node('node3');
    node3.start();
    await cluster.waitHealthy(2, 150_000);
    expect(node3.log()).toContain(`cloning from the least-loaded replica ${replica.name}`);
    // PostgreSQL's own record of where the base backup was taken: a standby, not the primary.
    expect(readFileSync(join(node3.dataDir, 'backup_label.old'), 'utf8')).toContain('BACKUP FROM: standby');

    await leader.sql('CREATE TABLE IF NOT EXISTS plugin_e2e (v text); INSERT INTO plugin_e2e VALUES ($$through the plugin$$)');
    await waitFor(async () => {
      try { return (await node3.sql<{ v: string }>('SELECT v FROM plugin_e2e'))[0]?.v === 'through the plugin'; } catch { return false; }
    }, 30_000, 'node3 to replay the write');
  }, 400_000);
});
