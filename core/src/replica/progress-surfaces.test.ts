/** Where progress shows: GET /patroni, the member key, and the line splitting runCommand does for parsers. */
import { describe, expect, it } from 'vitest';
import { memberData } from '../agent/member-data.js';
import { FakeBackend, threeNodeCluster } from '../api/fake-backend.js';
import { statusDocument } from '../api/status.js';
import { runCommand } from '../postgres/exec.js';
import type { ProgressReport } from './progress.js';

const started = Date.now() - 42_000;
const progress: ProgressReport = { action: 'creating replica', method: 'pgbackrest', percent: 42.7, bytesDone: 420, bytesTotal: 1000, startedAt: started, updatedAt: started + 1000 };

describe('progress in GET /patroni and the member key', () => {
  it('the /patroni document carries progress only while something reports it', async () => {
    const { backend } = await threeNodeCluster();
    const creating = { ...backend.status, state: 'creating replica', role: 'uninitialized', progress };
    const doc = statusDocument(backend as FakeBackend, creating);
    expect(doc).toMatchObject({ state: 'creating replica', progress: { action: 'creating replica', method: 'pgbackrest', percent: 42, bytes_done: 420, bytes_total: 1000 } });
    expect((doc.progress as { elapsed: number }).elapsed).toBeGreaterThanOrEqual(42);
    expect((doc.progress as { started_at: string }).started_at).toBe(new Date(started).toISOString());
    expect(statusDocument(backend as FakeBackend, { ...creating, progress: null }).progress).toBeUndefined();
  });

  it('the member key carries it as a pgha extra, unknown percent left out', () => {
    const base = { connUrl: 'postgres://h:5432/postgres', apiUrl: 'http://h:8008/patroni', version: '4.0.2', state: 'creating replica', role: 'uninitialized', tags: {}, checkpointAfterPromotePending: false, scheduledRestart: null, paused: false, reason: null };
    const status = { state: 'creating replica', role: 'uninitialized', postmasterStartTime: null, serverVersion: null, timeline: null, walLocation: null, receivedLocation: null, replayedLocation: null, replayedTimestamp: null, replayPaused: false, replicationState: null, replication: [], sysid: null, pendingRestart: false, pendingRestartReason: null };
    const data = memberData({ ...base, status: { ...status, progress: { ...progress, percent: null, bytesTotal: null } } });
    expect(data.state).toBe('creating replica');
    expect(data.progress).toMatchObject({ action: 'creating replica', method: 'pgbackrest', bytes_done: 420 });
    expect(data.progress).not.toHaveProperty('percent');
    expect(memberData({ ...base, status }).progress).toBeUndefined();
  });
});

describe('runCommand onLine', () => {
  it('hands over whole lines split on \\n and \\r (progress meters), across chunk boundaries, and logs only unconsumed ones', async () => {
    const seen: string[] = [];
    const logged: string[] = [];
    const logger = { debug() {}, warn() {}, error() {}, info(m: unknown) { logged.push(String(m)); }, child() { return logger; } };
    const script = 'printf "  10/40 kB (25%%)\\r  20/40 kB (50%%)\\r"; sleep 0.2; printf "  40/40 kB (100%%)\\nsplit "; sleep 0.2; printf "line\\nlast without newline"';
    const r = await runCommand('sh', ['-c', script], { logger, onLine: (l) => { seen.push(l); return l.includes('kB'); } });
    expect(r.code).toBe(0);
    expect(seen).toEqual(['  10/40 kB (25%)', '  20/40 kB (50%)', '  40/40 kB (100%)', 'split line', 'last without newline']);
    expect(logged).toEqual(['split line', 'last without newline']);
  });
  it('a throwing line handler does not break the run', async () => {
    const r = await runCommand('sh', ['-c', 'echo a; echo b'], { onLine: () => { throw new Error('parser bug'); } });
    expect(r).toMatchObject({ code: 0, stdout: 'a\nb\n' });
  });
});
