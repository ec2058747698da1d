import { afterEach, describe, expect, it } from 'vitest';
import { Tags } from '../model/member.js';
import { FakeBackend, REPLICA_STATUS, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function serve(backend: FakeBackend) {
  const s = await startApi(backend);
  server = s.server;
  return (path: string, method = 'GET') => call(s.port, { path, method });
}

async function codes(get: (p: string, m?: string) => Promise<{ status: number }>, paths: string[]) {
  const out: Record<string, number> = {};
  for (const p of paths) out[p] = (await get(p)).status;
  return out;
}

const ALL = ['/', '/primary', '/master', '/read-write', '/leader', '/standby-leader', '/standby_leader', '/replica',
  '/read-only', '/sync', '/synchronous', '/async', '/asynchronous', '/read-only-sync', '/health', '/nonsense'];

describe('health checks', () => {
  it('a primary holding the lock answers 200 on leader paths, 503 on replica paths and unknown paths', async () => {
    const { backend } = await threeNodeCluster();
    backend.leader = true;
    const get = await serve(backend);
    expect(await codes(get, ALL)).toEqual({
      '/': 200, '/primary': 200, '/master': 200, '/read-write': 200, '/leader': 200, '/standby-leader': 503, '/standby_leader': 503,
      '/replica': 503, '/read-only': 200, '/sync': 503, '/synchronous': 503, '/async': 503, '/asynchronous': 503,
      '/read-only-sync': 200, '/health': 200, '/nonsense': 503,
    });
    const res = await get('/primary');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json()).toMatchObject({ state: 'running', role: 'primary', xlog: { location: 67395656 } });
  });

  it('a primary that lost the lock is not /primary', async () => {
    const { backend } = await threeNodeCluster();
    const get = await serve(backend);
    expect((await get('/primary')).status).toBe(503);
    expect((await get('/leader')).status).toBe(503);
  });

  it('a streaming replica answers 200 on replica/read-only/async/health and 503 on leader paths', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = REPLICA_STATUS;
    const get = await serve(backend);
    expect(await codes(get, ALL)).toEqual({
      '/': 503, '/primary': 503, '/master': 503, '/read-write': 503, '/leader': 503, '/standby-leader': 503, '/standby_leader': 503,
      '/replica': 200, '/read-only': 200, '/sync': 503, '/synchronous': 503, '/async': 200, '/asynchronous': 200,
      '/read-only-sync': 503, '/health': 200, '/nonsense': 503,
    });
  });

  it('HEAD and OPTIONS return the status line only, for any path', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = REPLICA_STATUS;
    const get = await serve(backend);
    for (const method of ['HEAD', 'OPTIONS']) {
      const r = await get('/replica', method);
      expect([r.status, r.text]).toEqual([200, '']);
      expect((await get('/primary', method)).status).toBe(503);
      expect((await get('/patroni', method)).status).toBe(503);
    }
  });

  it('?lag= compares the leader optime in /status with the replayed location (bytes or units)', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = REPLICA_STATUS; // replayed 67394000, leader optime 67395656: 1656 bytes behind
    const get = await serve(backend);
    expect((await get('/replica?lag=2000')).status).toBe(200);
    expect((await get('/replica?lag=1000')).status).toBe(503);
    expect((await get('/replica?lag=1kB')).status).toBe(503);
    expect((await get('/replica?lag=10MB')).status).toBe(200);
    expect((await get('/async?lag=100')).status).toBe(503);
    expect((await get('/replica?lag=')).status).toBe(200);
    const bad = await get('/replica?lag=ten');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('invalid lag value');
  });

  it('?tag_<k>=<v> filters on the node tags; leader paths ignore them; noloadbalance excludes a replica', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = REPLICA_STATUS;
    backend.tags = new Tags({ zone: 'a', clonefrom: true });
    const get = await serve(backend);
    expect((await get('/replica?tag_zone=a')).status).toBe(200);
    expect((await get('/replica?tag_zone=b')).status).toBe(503);
    expect((await get('/replica?tag_clonefrom=true')).status).toBe(200);
    expect((await get('/replica?tag_missing=x')).status).toBe(503);
    backend.tags = new Tags({ noloadbalance: true });
    expect((await get('/replica')).status).toBe(503);
    backend.status = { ...REPLICA_STATUS, role: 'primary' };
    backend.leader = true;
    expect((await get('/primary?tag_zone=b')).status).toBe(200);
  });

  it('/sync and /read-only-sync follow the /sync key in synchronous mode', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { synchronous_mode: true } });
    seeded.put('sync', { leader: 'node2', sync_standby: 'node1' });
    await backend.dcs.getCluster();
    backend.status = REPLICA_STATUS;
    const get = await serve(backend);
    expect(await codes(get, ['/sync', '/synchronous', '/async', '/read-only-sync'])).toEqual({ '/sync': 200, '/synchronous': 200, '/async': 503, '/read-only-sync': 200 });
    expect((await get('/patroni')).json().sync_standby).toBe(true);
  });

  it('a standby leader is /standby-leader and /leader but not /primary', async () => {
    const { backend } = await threeNodeCluster({ config: { standby_cluster: { host: '127.0.0.1', port: 5433 } } });
    backend.leader = true;
    backend.status = { ...REPLICA_STATUS, role: 'standby_leader' };
    const get = await serve(backend);
    expect(await codes(get, ['/standby-leader', '/standby_leader', '/leader', '/primary', '/replica', '/read-only']))
      .toEqual({ '/standby-leader': 200, '/standby_leader': 200, '/leader': 200, '/primary': 503, '/replica': 503, '/read-only': 200 });
  });

  it('without a DCS view in pause, leader paths fall back to the PostgreSQL role', async () => {
    const { backend } = await threeNodeCluster();
    backend.dcs.resetCluster();
    backend.settings = { ...backend.settings, paused: true };
    const get = await serve(backend);
    expect((await get('/primary')).status).toBe(200);
    expect((await get('/patroni')).json()).toMatchObject({ pause: true, cluster_unlocked: true });
  });

  it('/health is 200 only while PostgreSQL runs', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = { ...REPLICA_STATUS, state: 'stopped' };
    const get = await serve(backend);
    expect((await get('/health')).status).toBe(503);
    const body = (await get('/health')).json();
    expect(body).toMatchObject({ state: 'stopped', role: 'replica' });
    expect(body.xlog).toBeUndefined();
  });

  it('/liveness follows the HA loop heartbeat and is always 200 in pause', async () => {
    const { backend } = await threeNodeCluster();
    const get = await serve(backend);
    expect((await get('/liveness')).status).toBe(200);
    backend.cycleStartedAt = performance.now() - 45_000; // replica threshold is 2*ttl = 60 s
    expect((await get('/liveness')).status).toBe(200);
    backend.leader = true; // primary threshold is ttl = 30 s
    expect((await get('/liveness')).status).toBe(503);
    backend.settings = { ...backend.settings, paused: true };
    backend.dcs.resetCluster();
    expect((await get('/liveness')).status).toBe(200);
  });

  it('/readiness: the leader is ready; a replica when streaming and within the lag limit', async () => {
    const { backend } = await threeNodeCluster();
    backend.leader = true;
    const get = await serve(backend);
    expect((await get('/readiness')).status).toBe(200);
    backend.leader = false;
    backend.status = REPLICA_STATUS;
    expect((await get('/readiness')).status).toBe(200);
    expect((await get('/readiness?lag=100')).status).toBe(503);
    expect((await get('/readiness?lag=1000&mode=write')).status).toBe(200);
    backend.status = { ...REPLICA_STATUS, replicationState: 'in archive recovery' };
    expect((await get('/readiness')).status).toBe(503);
    backend.status = { ...REPLICA_STATUS, state: 'starting' };
    expect((await get('/readiness')).status).toBe(503);
  });

  it('a status query that throws yields state unknown, never a crash', async () => {
    const { backend } = await threeNodeCluster();
    backend.nodeStatus = () => Promise.reject(new Error('connection refused'));
    const get = await serve(backend);
    const r = await get('/replica');
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ state: 'unknown', role: 'unknown' });
  });
});
