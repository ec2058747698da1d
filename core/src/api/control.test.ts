import { afterEach, describe, expect, it } from 'vitest';
import { type FakeBackend, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, type ClientRequest, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function serve(backend: FakeBackend) {
  const s = await startApi(backend);
  server = s.server;
  return async (r: ClientRequest) => {
    const res = await call(s.port, r);
    return [res.status, res.text] as const;
  };
}

const restart = (body?: unknown): ClientRequest => ({ method: 'POST', path: '/restart', body });

describe('POST /restart', () => {
  it('restarts now, with or without a body, passing the filters to the agent', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend);
    expect(await req(restart())).toEqual([200, 'restarted successfully']);
    expect(await req(restart({ role: 'replica', postgres_version: '16.3', timeout: '5min', restart_pending: true }))).toEqual([200, 'restarted successfully']);
    expect(backend.calls).toEqual(['restart:{}', 'restart:{"role":"replica","postgresVersion":"16.3","timeout":300,"restartPending":true}']);
    backend.restartResult = [false, 'restart conditions are not satisfied'];
    expect(await req(restart({ role: 'primary' }))).toEqual([503, 'restart conditions are not satisfied']);
    backend.restart = () => Promise.reject(new Error('boom'));
    expect(await req(restart())).toEqual([400, 'restart failed']);
  });

  it('validates filters with Patroni\'s messages', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend);
    expect(await req(restart({ role: 'master' }))).toEqual([400, 'PostgreSQL role should be either primary, standby_leader, or replica']);
    expect(await req(restart({ postgres_version: '9.6' }))).toEqual([400, 'Invalid PostgreSQL major version format: X.Y or X.Y.Z is accepted: 9.6']);
    expect(await req(restart({ postgres_version: 'sixteen' }))).toEqual([400, 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: sixteen']);
    expect(await req(restart({ timeout: 0 }))).toEqual([400, 'Timeout should be a positive number of seconds']);
    expect(await req(restart({ timeout: '10 parsecs' }))).toEqual([400, 'Timeout should be a positive number of seconds']);
    expect(await req(restart({ reboot: true }))).toEqual([400, 'Unknown filter for the scheduled restart: reboot']);
    expect(await req(restart('not json'))).toEqual([400, expect.stringContaining('not valid JSON')]);
    expect(await req(restart([]))).toEqual([400, 'Bad Request: request body must be a JSON object']);
    expect(backend.calls).toEqual([]);
  });

  it('schedules a restart (202), refuses a second (409), DELETE /restart removes it', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend);
    const at = '2099-05-01T03:00:00+00:00';
    expect(await req(restart({ schedule: at, role: 'replica' }))).toEqual([202, 'Restart scheduled']);
    expect(await req(restart({ schedule: at }))).toEqual([409, 'Another restart is already scheduled']);
    const status = JSON.parse((await call(server!.address!.port, { path: '/patroni' })).text);
    expect(status.scheduled_restart).toEqual({ schedule: at, role: 'replica' });
    expect(await req({ method: 'DELETE', path: '/restart' })).toEqual([200, 'scheduled restart deleted']);
    expect(await req({ method: 'DELETE', path: '/restart' })).toEqual([404, 'no restarts are scheduled']);
    expect(await req(restart({ schedule: '2001-01-01T00:00:00+00:00' }))).toEqual([422, 'Cannot schedule restart in the past']);
    expect(await req(restart({ schedule: '2099-01-01T00:00:00' }))).toEqual([400, 'Timezone information is mandatory for the scheduled restart']);
  });

  it('refuses to schedule in pause (500) but restarts immediately', async () => {
    const { backend } = await threeNodeCluster({ config: { pause: true } });
    const req = await serve(backend);
    expect(await req(restart({ schedule: '2099-05-01T03:00:00+00:00' }))).toEqual([500, "Can't schedule restart in the paused state"]);
    expect(await req(restart())).toEqual([200, 'restarted successfully']);
  });
});

describe('POST /reinitialize, /reload, /failsafe', () => {
  it('reinitializes with force parsed like Patroni, and reports the agent\'s refusal', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend);
    expect(await req({ method: 'POST', path: '/reinitialize' })).toEqual([200, 'reinitialize started']);
    expect(await req({ method: 'POST', path: '/reinitialize', body: { force: 'on' } })).toEqual([200, 'reinitialize started']);
    backend.reinitResult = [false, 'I am the leader, can not reinitialize'];
    expect(await req({ method: 'POST', path: '/reinitialize', body: {} })).toEqual([503, 'I am the leader, can not reinitialize']);
    expect(backend.calls).toEqual(['reinitialize:false', 'reinitialize:true', 'reinitialize:false']);
  });

  it('POST /failsafe answers Accepted (with the lsn header) in failsafe mode, 502 otherwise', async () => {
    const { backend } = await threeNodeCluster();
    const port = (await serve(backend), server!.address!.port);
    const ping = { name: 'node1', conn_url: 'postgres://127.0.0.1:5412/postgres', api_url: 'http://127.0.0.1:8018/patroni', slots: {} };
    expect((await call(port, { method: 'POST', path: '/failsafe', body: ping })).status).toBe(502);
    backend.settings = { ...backend.settings, failsafeMode: true };
    backend.failsafeAnswer = 67395000;
    const ok = await call(port, { method: 'POST', path: '/failsafe', body: ping });
    expect([ok.status, ok.text, ok.headers.lsn]).toEqual([200, 'Accepted', '67395000']);
    backend.failsafeAnswer = 'Running as a leader';
    const leader = await call(port, { method: 'POST', path: '/failsafe', body: ping });
    expect([leader.status, leader.text]).toEqual([500, 'Running as a leader']);    const bad = await call(port, { method: 'POST', path: '/failsafe', body: { name: 'node1' } });
    expect([bad.status, bad.text]).toEqual([400, 'Bad failsafe request: conn_url must be a non-empty string']);
  });

  it('an unexpected exception in the agent is a 500 with a reason, and the server keeps serving', async () => {
    const { backend } = await threeNodeCluster();
    backend.deleteScheduledRestart = () => { throw new TypeError('agent bug'); };
    const req = await serve(backend);
    expect(await req({ method: 'DELETE', path: '/restart' })).toEqual([500, 'Internal error: agent bug']);
    expect((await req({ path: '/health' }))[0]).toBe(200);
  });
});
