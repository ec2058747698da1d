import { afterEach, describe, expect, it } from 'vitest';
import { Tags } from '../model/member.js';
import { REPLICA_STATUS, SeededStore, FakeBackend, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function serve(backend: FakeBackend) {
  const s = await startApi(backend);
  server = s.server;
  return (path: string) => call(s.port, { path });
}

describe('GET /patroni', () => {
  it('describes a primary in Patroni v4 shape plus pgha extras', async () => {
    const { backend } = await threeNodeCluster();
    backend.leader = true;
    backend.tags = new Tags({ clonefrom: true });
    backend.status = { ...backend.status, pendingRestart: true, pendingRestartReason: { max_connections: { old_value: '100', new_value: '101' } } };
    backend.scheduled = { schedule: '2030-01-01T12:00:00+00:00', postmaster_start_time: '2023-08-18 11:03:37+00:00', role: 'replica' };
    backend.fence = { armed: true, watchdogFailed: true };
    const res = await (await serve(backend))('/patroni');
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      state: 'running', postmaster_start_time: '2023-08-18 11:03:37.966359+00:00', role: 'primary', server_version: 160002,
      xlog: { location: 67395656 }, timeline: 3,
      replication: [{ usename: 'replicator', application_name: 'node2', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sync_priority: 0 }],
      dcs_last_seen: backend.dcs.lastSeen, tags: { clonefrom: true }, database_system_identifier: '7268616322854375442',
      pending_restart: true, pending_restart_reason: { max_connections: { old_value: '100', new_value: '101' } },
      patroni: { version: '4.0.2', scope: 'demo', name: 'node1' },
      scheduled_restart: { schedule: '2030-01-01T12:00:00+00:00', role: 'replica' },
      watchdog_failed: true, fence_armed: true,
      decision: { message: 'no action. I am (node1), the leader with the lock', reason: null },
    });
    expect(body.dcs_last_seen).toBeGreaterThan(1_600_000_000);
  });

  it('describes a replica with received/replayed positions and flags cluster_unlocked and pause', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { pause: true } });
    seeded.delete('leader');
    await backend.dcs.getCluster();
    backend.status = REPLICA_STATUS;
    const body = (await (await serve(backend))('/patroni')).json();
    expect(body).toMatchObject({
      role: 'replica', replication_state: 'streaming', pause: true, cluster_unlocked: true,
      xlog: { received_location: 67395000, replayed_location: 67394000, replayed_timestamp: '2023-08-18 11:05:00.5+00:00', paused: false },
    });
    expect(body.replication).toBeUndefined();
    expect(body.xlog.location).toBeUndefined();
  });

  it('reports legacy role master as primary', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = { ...backend.status, role: 'master' };
    expect((await (await serve(backend))('/patroni')).json().role).toBe('primary');
  });
});

describe('GET /cluster', () => {
  it('is cluster_as_json of a fresh read: roles, states, host/port, lag against /status, sorted by name', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { synchronous_mode: true, pause: true } });
    seeded.put('sync', { leader: 'node1', sync_standby: 'node2' });
    seeded.put('failover', { leader: 'node1', member: 'node3', scheduled_at: '2030-09-24T10:36:00+02:00' });
    const res = await (await serve(backend))('/cluster');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      members: [
        { name: 'node1', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:8018/patroni', host: '127.0.0.1', port: 5412, timeline: 3, tags: { clonefrom: true } },
        { name: 'node2', role: 'sync_standby', state: 'streaming', api_url: 'http://127.0.0.1:8028/patroni', host: '127.0.0.1', port: 5422, timeline: 3,
          receive_lag: 656, receive_lsn: '0/4045DB8', replay_lag: 1656, replay_lsn: '0/40459D0', lag: 1656, lsn: '0/40459D0' },
        { name: 'node3', role: 'replica', state: 'running', api_url: 'http://127.0.0.1:8038/patroni', host: '127.0.0.1', port: 5432, timeline: 3,
          receive_lag: 'unknown', receive_lsn: 'unknown', replay_lag: 'unknown', replay_lsn: 'unknown', lag: 'unknown', lsn: 'unknown' },
      ],
      scope: 'demo', pause: true,
      scheduled_switchover: { at: '2030-09-24T10:36:00+02:00', from: 'node1', to: 'node3' },
    });
  });

  it('answers 503 with a reason when the DCS is down', async () => {
    const { seeded, backend } = await threeNodeCluster();
    seeded.store.down = true;
    const res = await (await serve(backend))('/cluster');
    expect(res.status).toBe(503);
    expect(res.text).toContain('DCS is not accessible');
  });
});

// GET /metrics: see metrics.test.ts.

describe('GET /config, /history, /failsafe', () => {
  it('returns /config, or 502 when there is none', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { ttl: 20 } });
    const get = await serve(backend);
    expect((await get('/config')).json()).toEqual({ ttl: 20 });
    seeded.delete('config');
    await backend.dcs.getCluster();
    expect((await get('/config')).status).toBe(502);
  });

  it('returns the /history lines, [] when absent', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const get = await serve(backend);
    expect((await get('/history')).json()).toEqual([]);
    seeded.put('history', [[1, 25623960, 'no recovery target specified', '2019-09-23T16:57:57+02:00', 'node2']]);
    await backend.dcs.getCluster();
    expect((await get('/history')).json()).toEqual([[1, 25623960, 'no recovery target specified', '2019-09-23T16:57:57+02:00', 'node2']]);
  });

  it('returns /failsafe in failsafe mode, else 502', async () => {
    const seeded = new SeededStore();
    seeded.put('failsafe', { node1: 'http://127.0.0.1:8018/patroni' });
    const backend = new FakeBackend(seeded);
    const get = await serve(backend);
    expect((await get('/failsafe')).status).toBe(502);
    backend.settings = { ...backend.settings, failsafeMode: true };
    expect((await get('/failsafe')).json()).toEqual({ node1: 'http://127.0.0.1:8018/patroni' });
  });
});
