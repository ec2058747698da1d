import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bootstrap, runCommand } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { testUser } from '../helpers/user.js';
import { BIN_DIR, cleanupNodes, makeNode, PASSWORDS, startPrimary, tempDir, writeScript } from './pg-helpers.js';

let backup: string;
let archive: string;
let scripts: string;

/** A restore script like a backup tool's: copies the on-disk backup into --datadir, optionally adding its own recovery settings. */
function restoreScript(name: string, extra = ''): string {
  return writeScript(scripts, name, [
    'for a in "$@"; do case "$a" in --datadir=*) D="${a#--datadir=}";; esac; done',
    `cp -a ${backup}/. "$D"/`,
    extra,
  ].join('\n'));
}

beforeAll(async () => {
  const work = tempDir('restore');
  backup = join(work, 'backup');
  archive = join(work, 'archive');
  scripts = tempDir('restore-scripts');
  await runCommand('mkdir', [archive], { runAs: testUser() });
  const primary = await makeNode('source', { parameters: { archive_mode: 'on', archive_command: `cp %p ${archive}/%f` } });
  await startPrimary(primary);
  const q = (sql: string) => primary.pg.query(sql);
  await q("CREATE TABLE t (v text); INSERT INTO t VALUES ('before backup')");
  const bb = await runCommand(join(BIN_DIR, 'pg_basebackup'), [`--pgdata=${backup}`, '-X', 'stream', '--checkpoint=fast', `--dbname=host=127.0.0.1 port=${primary.port} user=postgres`],
    { runAs: testUser(), env: { PGPASSWORD: PASSWORDS.superuser } });
  expect(bb.code, bb.stderr).toBe(0);
  await q("INSERT INTO t VALUES ('before target')");
  await q("SELECT pg_create_restore_point('target')");
  await q("INSERT INTO t VALUES ('after target')");
  const [{ seg }] = await primary.pg.query<{ seg: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS seg');
  await waitFor(async () => (await primary.pg.query<{ w: string }>('SELECT last_archived_wal AS w FROM pg_stat_archiver'))[0]!.w === seg, 20_000, 'WAL archived');
});
afterAll(cleanupNodes);

async function rows(pg: { query: <R extends Record<string, unknown>>(s: string) => Promise<R[]> }): Promise<string[]> {
  return (await pg.query<{ v: string }>('SELECT v FROM t ORDER BY v')).map((r) => r.v);
}

describe('custom bootstrap from a backup', () => {
  it('recovery_conf restores the backup to a target with recovery.signal and PostgreSQL promotes', async () => {
    const node = await makeNode('pitr');
    const r = await new Bootstrap(node.pg, {
      method: 'restore',
      restore: {
        command: restoreScript('restore.sh'),
        recovery_conf: { restore_command: `cp ${archive}/%f %p`, recovery_target_name: 'target', recovery_target_action: 'promote' },
      },
    }).run({ primaryTimeoutMs: 60_000 });
    expect(r).toEqual({ ok: true });
    expect(await rows(node.pg)).toEqual(['before backup', 'before target']);
    expect(await node.pg.status()).toMatchObject({ role: 'primary', timeline: 2 });
    expect(existsSync(join(node.dataDir, 'recovery.signal'))).toBe(false);
    // After promotion pgha's postgresql.conf no longer carries the recovery settings.
    expect(readFileSync(join(node.dataDir, 'postgresql.conf'), 'utf8')).not.toContain('recovery_target_name');
    // post_bootstrap ran against the restored cluster.
    expect(await node.pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'rewinder'")).toHaveLength(1);
  });

  const toolRecovery = `touch "$D/recovery.signal"\necho "restore_command = 'cp ${'$ARCHIVE'}/%f %p'" >> "$D/postgresql.auto.conf"`;

  it('keep_existing_recovery_conf leaves the restore tool\'s signal file and settings alone', async () => {
    const node = await makeNode('keep');
    const script = restoreScript('tool.sh', `ARCHIVE=${archive}\n${toolRecovery}`);
    const b = new Bootstrap(node.pg, { method: 'tool', tool: { command: script, keep_existing_recovery_conf: true } });
    expect(await b.customBootstrap()).toBe(true);
    expect(existsSync(join(node.dataDir, 'recovery.signal'))).toBe(true);
    // Started as the tool left it: recovery replays the whole archive, then promotes.
    expect(await node.pg.start({ recovery: { kind: 'keep' } })).toBe(true);
    expect(await b.waitForPrimary(60_000)).toBe(true);
    expect(await rows(node.pg)).toEqual(['after target', 'before backup', 'before target']);
    expect(readFileSync(join(node.dataDir, 'postgresql.auto.conf'), 'utf8')).toContain(`restore_command = 'cp ${archive}/%f %p'`);
  });

  it('without keep_existing_recovery_conf the signal files are removed', async () => {
    const node = await makeNode('nokeep');
    const script = restoreScript('tool2.sh', `ARCHIVE=${archive}\n${toolRecovery}\ntouch "$D/standby.signal"`);
    const b = new Bootstrap(node.pg, { method: 'tool', tool: { command: script } });
    expect(await b.customBootstrap()).toBe(true);
    expect(existsSync(join(node.dataDir, 'recovery.signal'))).toBe(false);
    expect(existsSync(join(node.dataDir, 'standby.signal'))).toBe(false);
  });
});
