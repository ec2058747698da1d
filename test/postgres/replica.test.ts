import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplica, PluginHost, replicaMethodResolver, runCommand } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { testUser } from '../helpers/user.js';
import { BIN_DIR, cleanupNodes, follow, makeNode, PASSWORDS, startPrimary, tempDir, writeScript, type TestNode } from './pg-helpers.js';

let primary: TestNode;
const resolve = replicaMethodResolver(new PluginHost({ config: {} }));

beforeAll(async () => {
  primary = await makeNode('primary');
  await startPrimary(primary);
  await primary.pg.query('CREATE TABLE t (v text)');
});
afterAll(cleanupNodes);

async function expectStreamingReplica(node: TestNode): Promise<void> {
  await primary.pg.query("SELECT pg_create_physical_replication_slot($1)", [node.name.replace(/-/g, '_')]);
  expect(await follow(node, primary.member())).toBe(true);
  const marker = `row-for-${node.name}`;
  await primary.pg.query('INSERT INTO t VALUES ($1)', [marker]);
  await waitFor(async () => (await node.pg.query('SELECT 1 FROM t WHERE v = $1', [marker]).catch(() => [])).length === 1, 20_000, `${node.name} replays`);
  const st = await node.pg.status();
  expect(st).toMatchObject({ role: 'replica', inRecovery: true, replicationState: 'streaming', timeline: 1 });
  expect(st!.receiveLsn! > 0n && st!.replayLsn! > 0n).toBe(true);
  const rows = (await primary.pg.status())!.replication;
  expect(rows.find((r) => r.applicationName === node.name)).toMatchObject({ state: 'streaming', usename: 'replicator' });
}

describe('replica creation', () => {
  it('clones a running primary with the basebackup plugin; the replica streams and replays', async () => {
    const replica = await makeNode('replica-bb', { extra: { basebackup: [{ checkpoint: 'fast' }, 'verbose', { 'wal-method': 'fetch' }] } });
    const r = await createReplica({ pg: replica.pg, source: primary.member(), resolve });
    expect(r).toMatchObject({ ok: true, method: 'basebackup', attempts: [{ method: 'basebackup', code: 0 }] });
    expect(readFileSync(join(replica.dataDir, 'PG_VERSION'), 'utf8').trim()).toBe('15');
    expect(await replica.pg.systemIdentifier()).toBe(await primary.pg.systemIdentifier());
    await expectStreamingReplica(replica);
    // primary_conninfo names this member; the password is not on any command line.
    const conf = readFileSync(join(replica.dataDir, 'postgresql.conf'), 'utf8');
    expect(conf).toMatch(/primary_conninfo = '.*application_name=replica-bb/);
    expect(conf).toContain("primary_slot_name = 'replica_bb'");
    expect(existsSync(join(replica.dataDir, 'standby.signal'))).toBe(true);
  });

  it('falls back from a failing custom script to basebackup, wiping PGDATA before each attempt', async () => {
    const replica = await makeNode('replica-chain');
    const dir = tempDir('chain');
    const out = join(dir, 'out');
    const script = writeScript(dir, 'broken.sh', [
      `for a in "$@"; do echo "arg:$a" >> ${out}; done`,
      `echo "pgpass:$(cat "$PGPASSFILE")" >> ${out}`,
      `for a in "$@"; do case "$a" in --datadir=*) ls -A "\${a#--datadir=}" | sed 's/^/file:/' >> ${out};; esac; done`,
      'exit 5',
    ].join('\n'));
    replica.pg.ensureDataDirectory();
    writeFileSync(join(replica.dataDir, 'stale-file'), 'x');
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve,
      methods: ['broken', 'basebackup'], sections: { broken: { command: script, 'backup-set': 'latest' } },
    });
    expect(r).toMatchObject({ ok: true, method: 'basebackup', attempts: [{ method: 'broken', code: 5 }, { method: 'basebackup', code: 0 }] });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toEqual([
      'arg:--backup-set=latest', 'arg:--scope=pgtest', 'arg:--role=replica', `arg:--datadir=${replica.dataDir}`,
      `arg:--connstring=host=127.0.0.1 port=${primary.port} dbname=postgres user=replicator`,
      `pgpass:127.0.0.1:${primary.port}:*:replicator:${PASSWORDS.replication.replace(':', '\\:')}`,
    ]);
    expect(existsSync(join(replica.dataDir, 'stale-file'))).toBe(false);
    await expectStreamingReplica(replica);
  });

  it('without a source runs only no_leader methods (restore from an on-disk backup)', async () => {
    const backups = tempDir('backup');
    const backup = join(backups, 'base');
    const u = testUser();
    const bb = await runCommand(join(BIN_DIR, 'pg_basebackup'), [`--pgdata=${backup}`, '-X', 'stream', `--dbname=host=127.0.0.1 port=${primary.port} user=postgres`],
      { runAs: u, env: { PGPASSWORD: PASSWORDS.superuser } });
    expect(bb.code, bb.stderr).toBe(0);
    const replica = await makeNode('replica-noleader');
    const dir = tempDir('noleader');
    const out = join(dir, 'out');
    const restore = writeScript(dir, 'restore.sh', [
      `echo "$@" > ${out}`,
      `for a in "$@"; do case "$a" in --datadir=*) cp -a ${backup}/. "\${a#--datadir=}"/;; esac; done`,
    ].join('\n'));
    const r = await createReplica({
      pg: replica.pg, source: null, resolve,
      methods: ['basebackup', 'restore', 'needs_leader'],
      sections: { restore: { command: restore, no_leader: true }, needs_leader: { command: '/bin/false' } },
    });
    expect(r).toEqual({ ok: true, method: 'restore', attempts: [{ method: 'restore', code: 0 }] });
    expect(readFileSync(out, 'utf8').trim()).toBe(`--no_leader=True --scope=pgtest --role=replica --datadir=${replica.dataDir} --connstring=`);
    // No leader: a standby without primary_conninfo stays in archive recovery.
    expect(await follow(replica, null)).toBe(true);
    const st = await waitFor(() => replica.pg.status(), 10_000, 'replica answers');
    expect(st).toMatchObject({ role: 'replica', replicationState: 'in archive recovery' });
    expect(readFileSync(join(replica.dataDir, 'postgresql.conf'), 'utf8')).not.toContain('primary_conninfo');
  });

  it('reports failure and leaves an empty PGDATA when every method fails', async () => {
    const replica = await makeNode('replica-fail');
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve,
      methods: ['nope', 'unknown_plugin'], sections: { nope: { command: '/bin/false' } },
    });
    expect(r.ok).toBe(false);
    expect(r.attempts[0]).toEqual({ method: 'nope', code: 1 });
    expect(r.attempts[1]!.error).toMatch(/no replica method unknown_plugin/);
    expect(replica.pg.dataDirectoryEmpty()).toBe(true);
  });
});
