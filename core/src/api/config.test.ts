import { afterEach, describe, expect, it } from 'vitest';
import { type FakeBackend, threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import type { RestApiConfig } from './types.js';
import { basicAuth, call, type ClientRequest, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function serve(backend: FakeBackend, restapi: Partial<RestApiConfig> = {}, maxBodyBytes?: number) {
  const s = await startApi(backend, restapi, { maxBodyBytes });
  server = s.server;
  return (r: ClientRequest) => call(s.port, r);
}

describe('PATCH /config', () => {
  it('merge-patches /config (null deletes, objects merge), writes it with CAS and wakes the HA loop', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { ttl: 30, loop_wait: 10, postgresql: { parameters: { max_connections: 100, work_mem: '4MB' } } } });
    const req = await serve(backend);
    const res = await req({ method: 'PATCH', path: '/config', body: { ttl: null, pause: true, postgresql: { parameters: { work_mem: null, max_connections: 101 } } } });
    expect(res.status).toBe(200);
    const expected = { loop_wait: 10, postgresql: { parameters: { max_connections: 101 } }, pause: true };
    expect(res.json()).toEqual(expected);
    expect(JSON.parse(seeded.get('config')!)).toEqual(expected);
    expect(backend.calls).toEqual(['wakeup']);
  });

  it('answers 409 when /config changed between read and write', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { ttl: 30 } });
    const write = backend.dcs.setConfigValue.bind(backend.dcs);
    backend.dcs.setConfigValue = async (value, version) => {
      seeded.config({ ttl: 25 }); // a concurrent editor wins the race
      return write(value, version);
    };
    const res = await (await serve(backend))({ method: 'PATCH', path: '/config', body: { ttl: 20 } });
    expect(res.status).toBe(409);
    expect(JSON.parse(seeded.get('config')!)).toEqual({ ttl: 25 });
  });

  it('answers 503 when /config is missing', async () => {
    const { seeded, backend } = await threeNodeCluster();
    seeded.delete('config');
    expect((await (await serve(backend))({ method: 'PATCH', path: '/config', body: { ttl: 20 } })).status).toBe(503);
  });

  it('refuses garbage: 400 bad JSON / non-object / empty, 411 without Content-Length, 413 too large', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend, {}, 1024);
    const cases: Array<[ClientRequest, number, string]> = [
      [{ method: 'PATCH', path: '/config', body: '{"ttl": ' }, 400, 'not valid JSON'],
      [{ method: 'PATCH', path: '/config', body: '[1,2]' }, 400, 'must be a JSON object'],
      [{ method: 'PATCH', path: '/config', body: '{}' }, 400, 'must not be empty'],
      [{ method: 'PATCH', path: '/config', body: Buffer.from([0xff, 0xfe, 0x7b]) }, 400, 'not valid JSON'],
      [{ method: 'PATCH', path: '/config', body: '{"ttl": 1}', chunked: true }, 411, 'Content-Length'],
      [{ method: 'PATCH', path: '/config', body: JSON.stringify({ big: 'x'.repeat(2000) }) }, 413, 'larger than 1024'],
      [{ method: 'PUT', path: '/config', body: 'null' }, 400, 'must be a JSON object'],
      [{ method: 'POST', path: '/nowhere', body: '{}' }, 501, 'Unsupported method'],
    ];
    for (const [r, status, text] of cases) {
      const res = await req(r);
      expect([res.status, res.text], JSON.stringify(r.body)?.slice(0, 40)).toEqual([status, expect.stringContaining(text)]);
    }
    // the agent still answers after all that
    expect((await req({ path: '/patroni' })).status).toBe(200);
    expect(backend.calls).toEqual([]);
  });
});

describe('PUT /config', () => {
  it('replaces /config', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { ttl: 30, loop_wait: 10 } });
    const res = await (await serve(backend))({ method: 'PUT', path: '/config', body: { ttl: 20 } });
    expect([res.status, res.json()]).toEqual([200, { ttl: 20 }]);
    expect(JSON.parse(seeded.get('config')!)).toEqual({ ttl: 20 });
  });
});

describe('access control on write endpoints', () => {
  const auth = { authentication: { username: 'admin', password: 's3cret' } };

  it('401 with WWW-Authenticate without or with wrong credentials; GETs stay open', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend, auth);
    const none = await req({ method: 'POST', path: '/reload' });
    expect([none.status, none.text, none.headers['www-authenticate']]).toEqual([401, 'no auth header received', 'Basic realm="Patroni"']);
    const wrong = await req({ method: 'POST', path: '/reload', headers: basicAuth('admin', 'nope') });
    expect([wrong.status, wrong.text]).toEqual([401, 'not authenticated']);
    expect((await req({ path: '/patroni' })).status).toBe(200);
    const ok = await req({ method: 'POST', path: '/reload', headers: basicAuth('admin', 's3cret') });
    expect([ok.status, ok.text]).toEqual([202, 'reload scheduled']);
    expect(backend.calls).toEqual(['reload']);
  });

  it('403 "Access is denied" outside the allowlist, checked before authentication', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend, { ...auth, allowlist: ['10.0.0.0/8', '192.168.1.1'] });
    const res = await req({ method: 'POST', path: '/reload', headers: basicAuth('admin', 's3cret') });
    expect([res.status, res.text]).toEqual([403, 'Access is denied']);
    expect(backend.calls).toEqual([]);
  });

  it('allows a client inside the allowlist (CIDR or host name)', async () => {
    const { backend } = await threeNodeCluster();
    for (const allowlist of [['127.0.0.0/8'], ['localhost'], ['127.0.0.1']]) {
      const req = await serve(backend, { allowlist });
      expect((await req({ method: 'POST', path: '/reload' })).status, allowlist[0]).toBe(202);
      await server!.stop();
    }
  });

  it('allowlist_include_members admits members\' REST API addresses', async () => {
    const { backend } = await threeNodeCluster(); // members' api_url hosts are 127.0.0.1
    const req = await serve(backend, { allowlist: ['10.0.0.0/8'], allowlist_include_members: true });
    expect((await req({ method: 'POST', path: '/reload' })).status).toBe(202);
  });

  it('extra headers are added to every response', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend, { http_extra_headers: { 'X-Frame-Options': 'SAMEORIGIN' }, https_extra_headers: { 'Strict-Transport-Security': 'max-age=1' } });
    const res = await req({ path: '/health' });
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('reload() applies new authentication and allowlist to the next request without re-binding', async () => {
    const { backend } = await threeNodeCluster();
    const req = await serve(backend);
    const port = server!.address!.port;
    expect((await req({ method: 'POST', path: '/reload' })).status).toBe(202);
    await server!.reload({ listen: '127.0.0.1:0', ...auth });
    expect(server!.address!.port).toBe(port);
    expect((await req({ method: 'POST', path: '/reload' })).status).toBe(401);
    await server!.reload({ listen: '127.0.0.1:0', allowlist: ['10.0.0.0/8'] });
    expect((await req({ method: 'POST', path: '/reload' })).status).toBe(403);
  });
});
