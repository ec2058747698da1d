/**
 * @pgha/replica-barman with real Barman 3.4: a local Barman server (backup_method = postgres, WAL
 * streamed by `barman receive-wal` on a slot) and replicas built by `barman recover`, directly and
 * through pg-backup-api. pg-backup-api is not installable here: that path runs against
 * PgBackupApiDouble, a test double of its HTTP API that runs the real `barman recover`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplica, type ProgressReport } from '@pgha/core';
import { cleanupNodes, DEFAULT_HBA, makeNode, startPrimary, type TestNode } from '../postgres/pg-helpers.js';
import { expectStreaming, pluginResolve, recordingResolve, recordProgress, values } from './checks.js';
import { PgBackupApiDouble } from './pg-backup-api-double.js';
import { barmanServer, type BarmanServer } from './tools.js';

let primary: TestNode;
let barman: BarmanServer;
let backupId: string;
const doubles: PgBackupApiDouble[] = [];

beforeAll(async () => {
  primary = await makeNode('bm-primary', { pgHba: ['local replication all trust', ...DEFAULT_HBA], parameters: { wal_keep_size: '256MB' } });
  await startPrimary(primary);
  await primary.pg.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('before backup')");
  barman = await barmanServer(primary);
  backupId = await barman.backup();
});
afterAll(async () => {
  for (const d of doubles) await d.stop();
  await barman?.stop();
  await cleanupNodes();
});

async function apiDouble(o: Partial<ConstructorParameters<typeof PgBackupApiDouble>[0]> = {}): Promise<PgBackupApiDouble> {
  const d = new PgBackupApiDouble({ barmanConfig: barman.config, ...o });
  await d.start();
  doubles.push(d);
  return d;
}

describe('Barman replica method', () => {
  it('barman recover builds a replica that streams from the primary; progress is PGDATA against the backup size', async () => {
    const replica = await makeNode('bm-replica');
    const progress = recordProgress(replica);
    const lines: string[] = [];
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: recordingResolve(lines),
      methods: ['barman'], sections: { barman: { config: barman.config, 'barman-server': 'main' } },
    });
    expect(r, lines.join('\n')).toEqual({ ok: true, method: 'barman', attempts: [{ method: 'barman', code: 0 }] });
    expect(lines.find((l) => l.startsWith('recovering the replica with barman'))).toContain(`recover main latest ${replica.dataDir}`);
    expect(existsSync(join(replica.dataDir, 'PG_VERSION'))).toBe(true);
    expect(await replica.pg.systemIdentifier()).toBe(await primary.pg.systemIdentifier());
    const reports = progress.filter((p): p is ProgressReport => p !== null);
    expect(reports[0]).toMatchObject({ action: 'creating replica', method: 'barman' });
    expect(reports.find((p) => p.bytesTotal !== null)!.bytesTotal).toBeGreaterThan(10 * 1024 * 1024);
    expect(reports.at(-1)).toMatchObject({ percent: 100 });
    expect(reports.at(-1)!.bytesDone).toBeGreaterThan(10 * 1024 * 1024);
    expect(progress.at(-1)).toBeNull();
    await expectStreaming(primary, replica);
    expect(await values(replica)).toContain('before backup');
  });

  it("patroni_barman's command form recovers through pg-backup-api (PgBackupApiDouble) and the replica streams", async () => {
    const api = await apiDouble();
    const replica = await makeNode('bm-api');
    const lines: string[] = [];
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: recordingResolve(lines), methods: ['barman'],
      sections: { barman: { command: `patroni_barman --api-url ${api.url} recover`, 'barman-server': 'main', 'backup-id': backupId, 'ssh-command': 'ssh postgres@127.0.0.1', 'loop-wait': 1 } },
    });
    expect(r, lines.join('\n')).toEqual({ ok: true, method: 'barman', attempts: [{ method: 'barman', code: 0 }] });
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: '/status' });
    expect(api.requests[1]).toEqual({
      method: 'POST', path: '/servers/main/operations',
      body: { type: 'recovery', backup_id: backupId, remote_ssh_command: 'ssh postgres@127.0.0.1', destination_directory: replica.dataDir },
    });
    expect(api.requests.slice(2).every((q) => q.method === 'GET' && q.path === '/servers/main/operations/op1')).toBe(true);
    expect(api.operation('op1')!.status).toBe('DONE');
    await expectStreaming(primary, replica);
  });

  it('pg-backup-api failures give patroni_barman\'s exit codes and the chain falls back to basebackup', async () => {
    const down = await apiDouble({ status: 'DOWN' });
    const failing = await apiDouble({ failRecoveries: true });
    const replica = await makeNode('bm-fallback');
    const section = (url: string) => ({ 'api-url': url, 'barman-server': 'main', 'ssh-command': 'ssh postgres@127.0.0.1', 'loop-wait': 1, 'retry-wait': 0 });
    const r = await createReplica({
      pg: replica.pg, source: primary.member(), resolve: pluginResolve,
      methods: ['barman', 'basebackup'],
      sections: { barman: section(down.url) },
    });
    expect(r).toMatchObject({ ok: true, method: 'basebackup', attempts: [{ method: 'barman', code: 2 }, { method: 'basebackup', code: 0 }] });
    expect(down.requests.map((q) => q.path)).toEqual(['/status']);
    // A recovery operation that fails: exit code 1 and PGDATA is wiped before the next method.
    const again = await makeNode('bm-failed-op');
    const r2 = await createReplica({ pg: again.pg, source: primary.member(), resolve: pluginResolve, methods: ['barman', 'basebackup'], sections: { barman: section(failing.url) } });
    expect(r2).toMatchObject({ ok: true, method: 'basebackup', attempts: [{ method: 'barman', code: 1 }, { method: 'basebackup', code: 0 }] });
    expect(failing.operation('op1')!.status).toBe('FAILED');
  });

  it('config errors name the key path', async () => {
    const replica = await makeNode('bm-bad');
    const r = await createReplica({ pg: replica.pg, source: primary.member(), resolve: pluginResolve, methods: ['barman'], sections: { barman: { 'api-url': 'http://127.0.0.1:1', 'target-time': 'x' } } });
    expect(r.ok).toBe(false);
    expect(r.attempts[0]!.error).toMatch(/postgresql\.barman\.barman-server: required/);
    expect(r.attempts[0]!.error).toMatch(/postgresql\.barman\.ssh-command: required with api-url/);
    expect(r.attempts[0]!.error).toMatch(/postgresql\.barman\.target-time: barman recover options cannot be passed through pg-backup-api/);
  });
});
