/**
 * Bootstrap from a backup with point-in-time recovery, with the real tools: a custom bootstrap
 * method restores the base backup (pgBackRest restore / barman recover), pgha's recovery_conf sets
 * restore_command and recovery_target_time, PostgreSQL replays the archive to the target and
 * promotes. The new cluster holds exactly the rows committed before the target, runs on a new
 * timeline, and a replica cloned from it streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplica, type ProgressReport } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { bootstrapCluster, cleanupNodes, DEFAULT_HBA, makeNode, startPrimary, type TestNode } from '../postgres/pg-helpers.js';
import { expectStreaming, pluginResolve, recordProgress, values } from './checks.js';
import { barmanServer, pgbackrestRepo, type BarmanServer, type PgBackRestRepo } from './tools.js';

let source: TestNode;
let repo: PgBackRestRepo;
let barman: BarmanServer;
let barmanBackup: string;
let target: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  repo = pgbackrestRepo();
  source = await makeNode('pitr-source', {
    pgHba: ['local replication all trust', ...DEFAULT_HBA],
    parameters: { archive_mode: 'on', archive_command: repo.archiveCommand },
  });
  await startPrimary(source);
  await repo.create(source);
  const q = (sql: string) => source.pg.query(sql);
  await q("CREATE TABLE t (v text); INSERT INTO t VALUES ('before backup')");
  await repo.cmd('--type=full', 'backup');
  barman = await barmanServer(source);
  barmanBackup = await barman.backup();
  await q("INSERT INTO t VALUES ('before target 1')");
  await q("INSERT INTO t VALUES ('before target 2')");
  // The target lies strictly between two commits, a second away from each.
  await sleep(1100);
  target = (await source.pg.query<{ t: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t"))[0]!.t;
  await sleep(1100);
  await q("INSERT INTO t VALUES ('after target')");
  const [{ seg }] = await source.pg.query<{ seg: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS seg');
  await waitFor(async () => (await source.pg.query<{ w: string }>('SELECT last_archived_wal AS w FROM pg_stat_archiver'))[0]!.w >= seg, 30_000, 'pgBackRest archived the WAL');
  await barman.switchWal();
});
afterAll(async () => {
  await barman?.stop();
  await cleanupNodes();
});

/** After a PITR bootstrap: primary on timeline 2 holding exactly the rows before the target; a replica joins. */
async function expectRestoredCluster(node: TestNode): Promise<void> {
  expect(await values(node)).toEqual(['before backup', 'before target 1', 'before target 2']);
  expect(await node.pg.status()).toMatchObject({ role: 'primary', inRecovery: false, timeline: 2 });
  const replica = await makeNode(`${node.name}-replica`);
  const progress = recordProgress(replica);
  const r = await createReplica({ pg: replica.pg, source: node.member(), resolve: pluginResolve, methods: ['basebackup'] });
  expect(r.ok).toBe(true);
  // pg_basebackup --progress: done/total kB, ending at 100%.
  const last = progress.filter((p): p is ProgressReport => p !== null && p.percent !== null).at(-1);
  expect(last).toMatchObject({ action: 'creating replica', method: 'basebackup', percent: 100 });
  expect(last!.bytesTotal).toBeGreaterThan(1024 * 1024);
  expect(last!.bytesDone).toBe(last!.bytesTotal);
  await expectStreaming(node, replica);
  expect(await replica.pg.status()).toMatchObject({ role: 'replica', timeline: 2 });
}

describe('bootstrap from a backup with point-in-time recovery', () => {
  it('pgBackRest: restore + recovery_conf (recovery_target_time, archive-get) stops before the target and promotes', async () => {
    const node = await makeNode('pitr-pgbackrest');
    const progress = recordProgress(node);
    const r = await bootstrapCluster(node, {
      method: 'pgbackrest',
      pgbackrest: {
        command: `pgbackrest --config=${repo.config} --stanza=${repo.stanza} --pg1-path=${node.dataDir} restore`,
        no_params: true,
        recovery_conf: { restore_command: repo.restoreCommand, recovery_target_time: target, recovery_target_action: 'promote', recovery_target_timeline: 'current' },
      },
    }, 90_000);
    expect(r).toEqual({ ok: true });
    await expectRestoredCluster(node);
    // The restore's progress was published while it ran (pgBackRest per-file percentages), then cleared.
    const reports = progress.filter((p): p is ProgressReport => p !== null);
    expect(reports[0]).toMatchObject({ action: 'bootstrap', method: 'pgbackrest' });
    expect(reports.some((p) => p.percent === 100)).toBe(true);
    expect(node.pg.progress).toBeNull();
  });

  it('Barman: barman recover + recovery_conf (recovery_target_time, barman get-wal) stops before the target and promotes', async () => {
    const node = await makeNode('pitr-barman');
    const progress = recordProgress(node);
    const r = await bootstrapCluster(node, {
      method: 'barman',
      barman: {
        command: `barman -c ${barman.config} recover main ${barmanBackup} ${node.dataDir}`,
        no_params: true,
        recovery_conf: {
          restore_command: `barman -c ${barman.config} get-wal main %f > %p`,
          recovery_target_time: target, recovery_target_action: 'promote', recovery_target_timeline: 'current',
        },
      },
    }, 90_000);
    expect(r).toEqual({ ok: true });
    await expectRestoredCluster(node);
    expect(progress.find((p) => p !== null)).toMatchObject({ action: 'bootstrap', method: 'barman' });
  });
});
