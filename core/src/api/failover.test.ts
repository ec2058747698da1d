import { afterEach, describe, expect, it } from 'vitest';
import { type FakeBackend, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, type ClientRequest, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function serve(backend: FakeBackend, failoverPollTimeoutMs = 3000) {
  const s = await startApi(backend, {}, { failoverPollTimeoutMs });
  server = s.server;
  return async (r: ClientRequest) => {
    const res = await call(s.port, r);
    return [res.status, res.text] as const;
  };
}

const post = (path: string, body: unknown): ClientRequest => ({ method: 'POST', path, body });
const future = () => new Date(Date.now() + 3600_000).toISOString().replace('Z', '+00:00');

describe('POST /switchover and /failover validation', () => {
  it('answers 400/412 with Patroni\'s messages, in Patroni\'s order, without touching /failover', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const req = await serve(backend);
    expect(await req(post('/failover', { leader: 'node1' }))).toEqual([400, 'Failover could be performed only to a specific candidate']);
    expect(await req(post('/switchover', { candidate: 'node2' }))).toEqual([400, 'Switchover could be performed only from a specific leader']);
    expect(await req(post('/failover', { candidate: 'node2', scheduled_at: future() }))).toEqual([400, "Failover can't be scheduled"]);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node1' }))).toEqual([400, 'Switchover target and source are the same']);
    expect(await req(post('/switchover', { leader: 'node2', candidate: 'node3' }))).toEqual([412, 'leader name does not match']);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node9' }))).toEqual([412, 'candidate does not exists']);
    expect(await req(post('/switchover', { leader: 'node1', scheduled_at: '2030-01-01T10:00:00' }))).toEqual([400, 'Timezone information is mandatory for the scheduled switchover']);
    expect(await req(post('/switchover', { leader: 'node1', scheduled_at: '2001-01-01T10:00:00+00:00' }))).toEqual([422, 'Cannot schedule switchover in the past']);
    expect(await req(post('/switchover', { leader: 'node1', scheduled_at: 'tomorrow' }))).toEqual([422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601']);
    expect(await req(post('/switchover', { leader: 42 }))).toEqual([400, 'Bad Request: "leader" must be a string']);
    expect(await req(post('/switchover', {}))).toEqual([400, 'Bad Request: request body must not be empty']);
    expect(seeded.get('failover')).toBeUndefined();
    expect(backend.calls).toEqual([]);
  });

  it('in synchronous mode a switchover goes only to a sync standby', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { synchronous_mode: true } });
    seeded.put('sync', { leader: 'node1', sync_standby: 'node2' });
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node3' }))).toEqual([412, 'candidate name does not match with sync_standby']);
    seeded.put('sync', { leader: 'node1', sync_standby: null });
    expect(await req(post('/switchover', { leader: 'node1' }))).toEqual([412, 'switchover is not possible: can not find sync_standby']);
  });

  it('in pause a candidate is mandatory and nothing can be scheduled', async () => {
    const { backend } = await threeNodeCluster({ config: { pause: true } });
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1' }))).toEqual([400, 'Switchover is possible only to a specific candidate in a paused state']);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node2', scheduled_at: future() }))).toEqual([400, "Can't schedule switchover in the paused state"]);
  });

  it('412 when the agent finds no healthy candidate among its peers', async () => {
    const { seeded, backend } = await threeNodeCluster();
    backend.possible = { ok: false, reason: 'no good candidates have been found' };
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1' }))).toEqual([412, 'switchover is not possible: no good candidates have been found']);
    expect(backend.calls).toEqual(['failoverPossible:null']);
    expect(seeded.get('failover')).toBeUndefined();
  });
});

describe('immediate switchover and failover', () => {
  it('writes /failover, wakes the loop, and reports success once the leader key moves', async () => {
    const { seeded, backend } = await threeNodeCluster();
    let written: string | undefined;
    backend.onWakeup = () => {
      written = seeded.get('failover');
      // the candidate wins the race a little later, as a real cluster would
      setTimeout(() => { seeded.leader('node2'); seeded.put('failover', '{}'); }, 300);
    };
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node2' }))).toEqual([200, 'Successfully switched over to "node2"']);
    expect(JSON.parse(written!)).toEqual({ leader: 'node1', member: 'node2' });
    expect(backend.calls).toEqual(['failoverPossible:node2', 'wakeup']);
  });

  it('reports a different winner, and the failover wording', async () => {
    const { seeded, backend } = await threeNodeCluster();
    backend.onWakeup = () => setTimeout(() => seeded.leader('node3'), 200);
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node2' }))).toEqual([200, 'Switched over to "node3" instead of "node2"']);
    seeded.leader('node1');
    backend.onWakeup = () => setTimeout(() => seeded.leader('node2'), 200);
    expect(await req(post('/failover', { candidate: 'node2' }))).toEqual([200, 'Successfully failed over to "node2"']);
  });

  it('a failover naming the leader is a switchover', async () => {
    const { seeded, backend } = await threeNodeCluster();
    backend.onWakeup = () => setTimeout(() => seeded.leader('node2'), 100);
    const req = await serve(backend);
    expect(await req(post('/failover', { leader: 'node1', candidate: 'node2' }))).toEqual([200, 'Successfully switched over to "node2"']);
  });

  it('503 "failed" when /failover is cleared without a leader change, "status unknown" on timeout', async () => {
    const { seeded, backend } = await threeNodeCluster();
    backend.onWakeup = () => setTimeout(() => seeded.put('failover', '{}'), 100);
    const req = await serve(backend, 1000);
    expect(await req(post('/switchover', { leader: 'node1' }))).toEqual([503, 'Switchover failed']);
    backend.onWakeup = null;
    expect(await req(post('/failover', { candidate: 'node2' }))).toEqual([503, 'Failover status unknown']);
  });

  it('503 when the DCS refuses the /failover write', async () => {
    const { backend } = await threeNodeCluster();
    backend.dcs.manualFailover = async () => false;
    const req = await serve(backend);
    expect(await req(post('/switchover', { leader: 'node1' }))).toEqual([503, 'failed to write failover key into DCS']);
  });
});

describe('scheduled switchover', () => {
  it('202 stores scheduled_at; GET /cluster shows it; DELETE /switchover removes it', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const req = await serve(backend);
    const at = '2099-01-01T12:00:00+02:00';
    expect(await req(post('/switchover', { leader: 'node1', candidate: 'node3', scheduled_at: at }))).toEqual([202, 'Switchover scheduled']);
    expect(JSON.parse(seeded.get('failover')!)).toEqual({ leader: 'node1', member: 'node3', scheduled_at: at });
    expect(backend.calls).toEqual(['wakeup']); // no peer check for a scheduled one: it is checked when due
    const cluster = JSON.parse((await call(server!.address!.port, { path: '/cluster' })).text);
    expect(cluster.scheduled_switchover).toEqual({ at, from: 'node1', to: 'node3' });
    expect(await req({ method: 'DELETE', path: '/switchover' })).toEqual([200, 'scheduled switchover deleted']);
    expect(seeded.get('failover')).toBe('{}');
    expect(await req({ method: 'DELETE', path: '/switchover' })).toEqual([404, 'no switchover is scheduled']);
  });
});
