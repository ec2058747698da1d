import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend, REPLICA_STATUS, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { basicAuth, call, startApi, type ClientRequest } from './test-client.js';

const servers: ApiServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.stop())); });

async function serve(backend: FakeBackend, restapi: Parameters<typeof startApi>[1] = {}) {
  const s = await startApi(backend, restapi);
  servers.push(s.server);
  return { port: s.port, req: (r: ClientRequest) => call(s.port, r) };
}

const ADMIN = { username: 'admin', password: 's3cret' };

describe('GET /dashboard: the page and its files', () => {
  it('redirects /dashboard to /dashboard/ and serves the page with a strict CSP', async () => {
    const { backend } = await threeNodeCluster();
    const { req } = await serve(backend);
    const redirect = await req({ path: '/dashboard' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('dashboard/');
    const page = await req({ path: '/dashboard/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<script src="app.js"></script>');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // No inline script anywhere: the CSP would block it.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/\son[a-z]+=/i);
  });

  it('serves its script, style and the uPlot library from the package, with the right types', async () => {
    const { backend } = await threeNodeCluster();
    const { req } = await serve(backend);
    const types: Record<string, string> = {
      'app.js': 'text/javascript', 'style.css': 'text/css', 'uPlot.min.js': 'text/javascript', 'uPlot.min.css': 'text/css',
    };
    for (const [file, type] of Object.entries(types)) {
      const res = await req({ path: `/dashboard/${file}` });
      expect(res.status, file).toBe(200);
      expect(res.headers['content-type'], file).toBe(`${type}; charset=utf-8`);
      expect(res.text.length, file).toBeGreaterThan(1000);
    }
    expect((await req({ path: '/dashboard/uPlot.min.js' })).text).toContain('uPlot');
  });

  it('serves nothing but its own files: traversal and unknown names are 404', async () => {
    const { backend } = await threeNodeCluster();
    const { req } = await serve(backend);
    for (const path of ['/dashboard/..%2f..%2fpackage.json', '/dashboard/..%5c..%5cpackage.json',
      '/dashboard/app.js%00', '/dashboard/constructor', '/dashboard/__proto__', '/dashboard//etc/passwd', '/dashboard/app.js/']) {
      const res = await req({ path });
      expect(res.status, path).toBe(404);
      expect(res.text, path).not.toContain('"name"');
    }
    // Dot segments are resolved by the URL parser before routing: these are other paths, never files.
    for (const path of ['/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/../../package.json']) {
      const res = await req({ path });
      expect(res.status, path).toBe(503);
      expect(res.json().patroni.name, path).toBe('node1');
    }
  });
});

describe('GET /dashboard/state', () => {
  it('describes the members: roles, states, lag, upstreams, decisions, the history and whether actions need credentials', async () => {
    const { seeded, backend } = await threeNodeCluster();
    seeded.put('history', [[1, 25623960, 'no recovery target specified', '2026-11-29T10:00:00+00:00', 'node1'],
      [2, 33554432, 'switchover', '2026-11-29T10:30:00+00:00', 'node1']]);
    seeded.member('node3', { role: 'replica', state: 'running', timeline: 3, pgha_reason: 'not healthy enough for leader race: lag 40 MB' });
    await backend.dcs.getCluster();
    backend.decision = { message: 'no action. I am (node1), the leader with the lock', reason: null };
    const { req } = await serve(backend, { authentication: ADMIN });
    const res = await req({ path: '/dashboard/state' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const s = res.json();
    expect(s).toMatchObject({ scope: 'demo', self: 'node1', leader: 'node1', authRequired: true, paused: false, dcsError: null, clusterUnlocked: false });
    const byName = Object.fromEntries(s.members.map((m: { name: string }) => [m.name, m]));
    expect(byName.node1).toMatchObject({ role: 'leader', reachable: true, decision: { message: 'no action. I am (node1), the leader with the lock', reason: null }, upstream: null, lagSeconds: null, fenceArmed: true });
    // node2 streams from node1 (node1's pg_stat_replication names it); its API is not reachable from here.
    expect(byName.node2).toMatchObject({ role: 'replica', state: 'streaming', lag: 1656, upstream: 'node1', reachable: false });
    // A member that can't be asked still shows why it was not promoted (published in its member key).
    expect(byName.node3).toMatchObject({ decision: { message: null, reason: 'not healthy enough for leader race: lag 40 MB' }, upstream: 'node1' });
    expect(s.history).toEqual([
      { timeline: 2, lsn: 33554432, reason: 'switchover', timestamp: '2026-11-29T10:30:00+00:00', newLeader: 'node1' },
      { timeline: 1, lsn: 25623960, reason: 'no recovery target specified', timestamp: '2026-11-29T10:00:00+00:00', newLeader: 'node1' },
    ]);
    expect(s.lag).toEqual([{ t: expect.any(Number), lag: { node2: 1656, node3: null } }]);
  });

  it("asks peers for their status: lag in seconds, cascading upstreams and each member's last decision", async () => {
    const { seeded, backend } = await threeNodeCluster();
    // node2 is a real API server; node3 cascades from node2.
    const peer = new FakeBackend(seeded, 'node2');
    const replayedAt = new Date(Date.now() - 7000).toISOString();
    peer.status = { ...REPLICA_STATUS, replayedLocation: 67000000, replayedTimestamp: replayedAt, replication: [{ application_name: 'node3', state: 'streaming' }] };
    peer.decision = { message: 'no action. I am (node2), a secondary, and following a leader (node1)', reason: null };
    peer.fence = { armed: false, watchdogFailed: false };
    const node2 = await serve(peer);
    seeded.member('node2', { role: 'replica', api_url: `http://127.0.0.1:${node2.port}/patroni`, xlog_location: 67000000, replication_state: 'streaming' });
    await backend.dcs.getCluster();
    backend.status = { ...backend.status, replication: [{ application_name: 'node2', state: 'streaming' }] };
    const s = (await (await serve(backend)).req({ path: '/dashboard/state' })).json();
    const byName = Object.fromEntries(s.members.map((m: { name: string }) => [m.name, m]));
    expect(byName.node2).toMatchObject({ reachable: true, upstream: 'node1', pgState: 'running', fenceArmed: false, decision: { message: peer.decision.message, reason: null } });
    // Lag from live positions (primary 67395656, node2 received 67395000), fresher than the DCS's 395656.
    expect(byName.node2.lag).toBe(656);
    expect(byName.node2.lagSeconds).toBeGreaterThanOrEqual(6.5);
    expect(byName.node2.lagSeconds).toBeLessThan(60);
    expect(byName.node3.upstream).toBe('node2');
    expect(s.authRequired).toBe(false);
  });

  it('still answers when the DCS is down, saying so', async () => {
    const { seeded, backend } = await threeNodeCluster();
    seeded.store.down = true;
    backend.dcs.resetCluster();
    const res = await (await serve(backend)).req({ path: '/dashboard/state' });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ members: [], dcsError: expect.stringContaining('DCS is not accessible') });
  });

  it('survives hostile peers: garbage, huge and non-object answers', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const { createServer } = await import('node:http');
    const bodies = ['not json', JSON.stringify('x'.repeat(300_000)), '[1,2,3]', '{"xlog": "nope", "replication": {"application_name": "node1"}, "decision": 5}'];
    let i = 0;
    const hostile = createServer((_q, r) => { r.end(bodies[i++ % bodies.length]); });
    await new Promise<void>((ok) => hostile.listen(0, '127.0.0.1', ok));
    try {
      const port = (hostile.address() as { port: number }).port;
      seeded.member('node2', { role: 'replica', api_url: `http://127.0.0.1:${port}/patroni` });
      await backend.dcs.getCluster();
      const { req } = await serve(backend);
      for (let k = 0; k < bodies.length; k++) {
        await new Promise((r) => setTimeout(r, 1100)); // past the shared-build window
        const res = await req({ path: '/dashboard/state' });
        expect(res.status).toBe(200);
        const node2 = res.json().members.find((m: { name: string }) => m.name === 'node2');
        expect(node2.name).toBe('node2');
        expect(node2.decision === null || typeof node2.decision === 'object').toBe(true);
      }
    } finally {
      hostile.closeAllConnections();
      await new Promise((ok) => hostile.close(ok));
    }
  }, 20_000);
});

describe('POST /dashboard/action', () => {
  const action = (body: unknown, headers: Record<string, string> = {}): ClientRequest =>
    ({ method: 'POST', path: '/dashboard/action', body, headers: { 'Content-Type': 'application/json', ...headers } });

  it('needs credentials when the API does, before anything runs or is forwarded; its 401 has no Basic challenge', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const { req } = await serve(backend, { authentication: ADMIN });
    for (const body of [{ member: 'node2', action: 'restart' }, { member: 'node1', action: 'restart' }, { action: 'pause' },
      { action: 'switchover', leader: 'node1', candidate: 'node2' }]) {
      for (const headers of [{}, basicAuth('admin', 'wrong')]) {
        const res = await req(action(body, headers));
        expect(res.status, JSON.stringify(body)).toBe(401);
        // Without the challenge, a browser shows the page's own sign-in, not its native prompt.
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
    }
    expect(backend.calls).toEqual([]);
    expect(seeded.get('failover')).toBeUndefined();
    expect(JSON.parse(seeded.get('config')!).pause).toBeUndefined();
    // The ordinary endpoints keep Patroni's challenge.
    expect((await req({ method: 'POST', path: '/restart' })).headers['www-authenticate']).toBe('Basic realm="Patroni"');
  });

  it('pauses, resumes and switches over here, through the ordinary endpoints', async () => {
    const { seeded, backend } = await threeNodeCluster();
    const { req } = await serve(backend, { authentication: ADMIN });
    const auth = basicAuth(ADMIN.username, ADMIN.password);
    expect(await req(action({ action: 'pause' }, auth)).then((r) => [r.status, r.text])).toEqual([200, 'Cluster paused']);
    expect(JSON.parse(seeded.get('config')!).pause).toBe(true);
    expect(await req(action({ action: 'resume' }, auth)).then((r) => [r.status, r.text])).toEqual([200, 'Cluster resumed']);
    expect(JSON.parse(seeded.get('config')!).pause).toBeUndefined();
    backend.onWakeup = () => setTimeout(() => seeded.leader('node2'), 200);
    const sw = await req(action({ action: 'switchover', leader: 'node1', candidate: 'node2' }, auth));
    expect([sw.status, sw.text]).toEqual([200, 'Successfully switched over to "node2"']);
    // The switchover endpoint's own checks apply: a wrong leader is refused by it.
    const bad = await req(action({ action: 'switchover', leader: 'node3', candidate: 'node2' }, auth));
    expect(bad.status).toBe(412);
    expect(await req(action({ action: 'restart', member: 'node1' }, auth)).then((r) => [r.status, r.text])).toEqual([200, 'restarted successfully']);
    expect(backend.calls).toEqual(['wakeup', 'wakeup', 'failoverPossible:node2', 'wakeup', 'restart:{}']);
  });

  it('refuses bad requests with the reason', async () => {
    const { backend } = await threeNodeCluster();
    const { req } = await serve(backend);
    const cases: Array<[ClientRequest, number, string]> = [
      [{ method: 'POST', path: '/dashboard/action', body: { member: 'node2', action: 'restart' }, headers: { 'Content-Type': 'text/plain' } }, 415, 'application/json'],
      [{ method: 'POST', path: '/dashboard/action', body: 'member=node2&action=restart', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, 'application/json'],
      [action({ member: 'node2', action: 'sigterm' }), 400, '"action" must be one of'],
      [action({ action: 'switchover', candidate: 'node2' }), 400, '"leader"'],
      [action({ action: 'switchover', leader: 'node1' }), 400, '"candidate"'],
      [action({ action: 'restart' }), 400, '"member"'],
      [action({ member: 'node2', action: 'restart', force: 'yes' }), 400, '"force"'],
      [action({ member: 42, action: 'restart' }), 400, '"member"'],
      [action({ member: 'node9', action: 'restart' }), 404, 'no member named "node9"'],
      [action('{"member":'), 400, 'not valid JSON'],
      [{ ...action({}), path: '/dashboard/state' }, 404, '/dashboard/action'],
    ];
    for (const [r, status, text] of cases) {
      const res = await req(r);
      expect(res.status, JSON.stringify(r.body)).toBe(status);
      expect(res.text).toContain(text);
    }
    expect(backend.calls).toEqual([]);
  });

  it("forwards restart, reload and reinitialize to the member's own API with the caller's credentials", async () => {
    const { seeded, backend } = await threeNodeCluster();
    const peer = new FakeBackend(seeded, 'node2');
    const node2 = await serve(peer, { authentication: ADMIN });
    seeded.member('node2', { role: 'replica', api_url: `http://127.0.0.1:${node2.port}/patroni` });
    await backend.dcs.getCluster();
    const { req } = await serve(backend, { authentication: ADMIN });
    const auth = basicAuth(ADMIN.username, ADMIN.password);
    expect(await req(action({ member: 'node2', action: 'restart' }, auth)).then((r) => [r.status, r.text])).toEqual([200, 'restarted successfully']);
    expect(await req(action({ member: 'node2', action: 'reload' }, auth)).then((r) => [r.status, r.text])).toEqual([202, 'reload scheduled']);
    expect(await req(action({ member: 'node2', action: 'reinitialize', force: true }, auth)).then((r) => [r.status, r.text])).toEqual([200, 'reinitialize started']);
    peer.restartResult = [false, 'restart conditions are not satisfied'];
    expect(await req(action({ member: 'node2', action: 'restart' }, auth)).then((r) => [r.status, r.text])).toEqual([503, 'restart conditions are not satisfied']);
    expect(peer.calls).toEqual(['restart:{}', 'reload', 'reinitialize:true', 'restart:{}']);
    expect(backend.calls).toEqual([]);
  });

  it('reports an unreachable member or a useless api_url as 502', async () => {
    const { seeded, backend } = await threeNodeCluster();
    seeded.member('node2', { role: 'replica', api_url: 'http://127.0.0.1:1/patroni' });
    seeded.member('node3', { role: 'replica', api_url: 'file:///etc/passwd' });
    await backend.dcs.getCluster();
    const { req } = await serve(backend);
    const r2 = await req(action({ member: 'node2', action: 'reload' }));
    expect(r2.status).toBe(502);
    expect(r2.text).toContain('node2 did not answer');
    const r3 = await req(action({ member: 'node3', action: 'reload' }));
    expect(r3.status).toBe(502);
    expect(r3.text).toContain('no usable api_url');
  });
});
