/**
 * @pgha/replica-pgbackrest with real pgBackRest 2.45: a stanza with a local repository, WAL
 * archived by archive-push, a full and an incremental backup; replicas restored from it stream from
 * the primary, a second restore over an existing cluster uses --delta, and a replica built while
 * the primary is down replays the archive and joins once the primary is back.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplica, type ProgressReport } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { cleanupNodes, follow, makeNode, startPrimary, type TestNode } from '../postgres/pg-helpers.js';
import { expectStreaming as expectStreamingFrom, pluginResolve, recordingResolve, recordProgress } from './checks.js';
import { pgbackrestRepo, type PgBackRestRepo } from './tools.js';

let primary: TestNode;
let repo: PgBackRestRepo;
const baseResolve = pluginResolve;

async function insert(v: string): Promise<void> {
  await primary.pg.query('INSERT INTO t VALUES ($1)', [v]);
}

const expectStreaming = (node: TestNode) => expectStreamingFrom(primary, node);

/** A live process whose command line is a pgBackRest command for `dataDir`. */
function pgbackrestRunningFor(dataDir: string): boolean {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('pgbackrest') && cmd.includes(dataDir)) return true;
    } catch { /* gone */ }
  }
  return false;
}

beforeAll(async () => {
  // The stanza is the scope, so sections that leave `stanza` out use it.
  repo = pgbackrestRepo('pgtest');
  primary = await makeNode('br-primary', { parameters: { archive_mode: 'on', archive_command: repo.archiveCommand, wal_keep_size: '256MB' } });
  await startPrimary(primary);
  await repo.create(primary);
  await primary.pg.query('CREATE TABLE t (v text)');
  await insert('before full');
  await repo.cmd('--type=full', 'backup');
  await insert('before incr');
  await repo.cmd('--type=incr', 'backup');
  const info = JSON.parse((await repo.cmd('--output=json', 'info')).stdout) as Array<{ backup: Array<{ type: string }> }>;
  expect(info[0]!.backup.map((b) => b.type)).toEqual(['full', 'incr']);
});
afterAll(cleanupNodes);

describe('pgBackRest replica method', () => {
  it('restores a replica from the repository (the incremental backup) that streams from the primary, with progress', async () => {
    const replica = await makeNode('br-replica');
    const progress = recordProgress(replica);
    const lines: string[] = [];
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: recordingResolve(lines),
      methods: ['pgbackrest', 'basebackup'], sections: { pgbackrest: { config: repo.config, stanza: repo.stanza } },
    });
    expect(r).toEqual({ ok: true, method: 'pgbackrest', attempts: [{ method: 'pgbackrest', code: 0 }] });
    const cmd = lines.find((l) => l.startsWith('restoring the replica'))!;
    expect(cmd).toContain(`--stanza=pgtest --pg1-path=${replica.dataDir} --type=standby restore`);
    expect(cmd).not.toContain('--delta');
    // pgBackRest's own recovery settings: standby.signal and its archive-get restore_command.
    expect(existsSync(join(replica.dataDir, 'standby.signal'))).toBe(true);
    expect(readFileSync(join(replica.dataDir, 'postgresql.auto.conf'), 'utf8')).toMatch(/restore_command = 'pgbackrest .*archive-get %f "%p"'/);
    // Progress: percent from pgBackRest's per-file lines, rising to 100, then cleared.
    const pcts = progress.filter((p): p is ProgressReport => p !== null && p.percent !== null).map((p) => p.percent!);
    expect(pcts.length).toBeGreaterThan(10);
    expect(pcts.at(-1)).toBe(100);
    expect(pcts.every((p, i) => i === 0 || p >= pcts[i - 1]!)).toBe(true);
    expect(progress.find((p) => p?.bytesTotal)?.bytesTotal).toBeGreaterThan(10 * 1024 * 1024);
    expect(progress.at(-1)).toBeNull();
    // The per-file DETAIL lines were parsed, not logged one by one.
    expect(lines.filter((l) => l.includes('restore file')).length).toBe(0);
    await expectStreaming(replica);
    expect((await replica.pg.query<{ v: string }>('SELECT v FROM t ORDER BY v')).map((x) => x.v)).toEqual(expect.arrayContaining(['before full', 'before incr']));

    // Re-creating over the existing cluster keeps PGDATA and restores with --delta.
    await replica.pg.stop({ mode: 'fast' });
    lines.length = 0;
    const again = await createReplica({ pg: replica.pg, source: primary.member(), resolve: recordingResolve(lines), methods: ['pgbackrest'], sections: { pgbackrest: { config: repo.config } } });
    expect(again.ok).toBe(true);
    expect(lines.find((l) => l.startsWith('restoring the replica'))).toContain('--type=standby --delta restore');
    await replica.pg.start({ recovery: replica.pg.standbyRecovery(primary.member()) });
    await waitFor(async () => (await replica.pg.status())?.replicationState === 'streaming', 30_000, 'delta-restored replica streams');
  });

  it('with no_leader builds a replica while the primary is down; it replays the archive and streams once the primary is back', async () => {
    await insert('archived while up');
    const [{ seg }] = await primary.pg.query<{ seg: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS seg');
    await waitFor(async () => (await primary.pg.query<{ w: string }>('SELECT last_archived_wal AS w FROM pg_stat_archiver'))[0]!.w >= seg, 30_000, 'WAL archived');
    expect(await primary.pg.stop({ mode: 'fast' })).toBe(true);
    const replica = await makeNode('br-noleader');
    const lines: string[] = [];
    const r = await createReplica({
      pg: replica.pg, source: null, resolve: recordingResolve(lines),
      methods: ['basebackup', 'pgbackrest'], sections: { pgbackrest: { config: repo.config, no_leader: true } },
    });
    expect(r, lines.join('\n')).toEqual({ ok: true, method: 'pgbackrest', attempts: [{ method: 'pgbackrest', code: 0 }] });
    // No leader: a standby without primary_conninfo that replays what the archive has.
    expect(await follow(replica, null)).toBe(true);
    await waitFor(async () => (await replica.pg.query('SELECT 1 FROM t WHERE v = $1', ['archived while up']).catch(() => [])).length === 1, 30_000, 'archive replayed');
    expect(await replica.pg.status()).toMatchObject({ role: 'replica', replicationState: 'in archive recovery' });
    // The primary comes back: the replica joins it.
    expect(await primary.pg.start({ recovery: { kind: 'none' } })).toBe(true);
    await expectStreaming(replica);
  });

  it("Patroni's form runs the command as Patroni would (no_params, keep_data) and still reports progress", async () => {
    const replica = await makeNode('br-patroni');
    const progress = recordProgress(replica);
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: baseResolve, methods: ['pgbackrest'],
      sections: { pgbackrest: { command: `/usr/bin/pgbackrest --config=${repo.config} --stanza=pgtest --pg1-path=${replica.dataDir} --type=standby --delta restore`, keep_data: true, no_params: true } },
    });
    expect(r).toEqual({ ok: true, method: 'pgbackrest', attempts: [{ method: 'pgbackrest', code: 0 }] });
    expect(progress.some((p) => p?.percent === 100 && p.method === 'pgbackrest')).toBe(true);
    await expectStreaming(replica);
  });

  it('cancelling the creation kills pgBackRest mid-restore and leaves an empty PGDATA', async () => {
    const replica = await makeNode('br-cancel');
    const ac = new AbortController();
    const orig = replica.pg.setProgress.bind(replica.pg);
    replica.pg.setProgress = (p) => {
      orig(p);
      if (p && p.percent !== null && p.percent > 0 && p.percent < 100) ac.abort();
    };
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: baseResolve, signal: ac.signal,
      methods: ['pgbackrest', 'basebackup'], sections: { pgbackrest: { config: repo.config } },
    });
    expect(ac.signal.aborted).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.attempts).toHaveLength(1);
    expect(r.attempts[0]!.code).not.toBe(0);
    expect(replica.pg.dataDirectoryEmpty()).toBe(true);
    expect(replica.pg.progress).toBeNull();
    // No pgBackRest process still writes into the wiped directory.
    await waitFor(() => !pgbackrestRunningFor(replica.dataDir), 10_000, 'pgbackrest processes exit');
  });

  it('a config error names the key path', async () => {
    const replica = await makeNode('br-bad');
    const r = await createReplica({ pg: replica.pg, source: primary.member(), resolve: baseResolve, methods: ['pgbackrest'], sections: { pgbackrest: { 'Bad Option': 1, 'pg1-path': '/x' } } });
    expect(r.ok).toBe(false);
    expect(r.attempts[0]!.error).toMatch(/postgresql\.pgbackrest\.Bad Option: not a pgBackRest option name/);
    expect(r.attempts[0]!.error).toMatch(/postgresql\.pgbackrest\.pg1-path: set by pgha/);
  });
});
