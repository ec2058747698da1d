import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { threeNodeCluster } from './fake-backend.js';
import { apiUrl, type ApiServer } from './server.js';
import { basicAuth, call, startApi } from './test-client.js';

/** A throwaway CA, a server certificate for 127.0.0.1 (encrypted key) and a client certificate. */
let dir = '';
const pem = (name: string) => readFileSync(join(dir, name));
function openssl(...args: string[]) { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); }

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-api-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=pgha test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-newkey', 'rsa:2048', '-passout', 'pass:keypass', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'server.crt');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', 'client.key', '-out', 'client.csr');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'client.crt');
  // a client certificate from a CA the server does not trust
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=stranger', '-keyout', 'stranger.key', '-out', 'stranger.crt');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

const tlsFiles = () => ({ certfile: join(dir, 'server.crt'), keyfile: join(dir, 'server.key'), keyfile_password: 'keypass', cafile: join(dir, 'ca.crt') });

describe('REST API over TLS', () => {
  it('serves https with an encrypted key; api_url uses https; https_extra_headers apply', async () => {
    const { backend } = await threeNodeCluster();
    backend.leader = true;
    const restapi = { ...tlsFiles(), https_extra_headers: { 'Strict-Transport-Security': 'max-age=31536000' } };
    const s = await startApi(backend, restapi);
    server = s.server;
    expect(s.server.isHttps).toBe(true);
    expect(apiUrl({ ...restapi, listen: '0.0.0.0:8008', connect_address: '127.0.0.1:8008' })).toBe('https://127.0.0.1:8008/patroni');
    expect(apiUrl({ listen: '127.0.0.1:8008' })).toBe('http://127.0.0.1:8008/patroni');
    const res = await call(s.port, { path: '/primary', tls: { ca: pem('ca.crt') } });
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    await expect(call(s.port, { path: '/primary', tls: { rejectUnauthorized: true } })).rejects.toThrow();
  });

  it('verify_client required: the handshake needs a trusted client certificate, then auth still applies', async () => {
    const { backend } = await threeNodeCluster();
    const s = await startApi(backend, { ...tlsFiles(), verify_client: 'required', authentication: { username: 'u', password: 'p' } });
    server = s.server;
    const trusted = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };
    expect((await call(s.port, { path: '/health', tls: trusted })).status).toBe(200);
    await expect(call(s.port, { path: '/health', tls: { ca: pem('ca.crt') } })).rejects.toThrow();
    await expect(call(s.port, { path: '/health', tls: { ca: pem('ca.crt'), cert: pem('stranger.crt'), key: pem('stranger.key') } })).rejects.toThrow();
    expect((await call(s.port, { method: 'POST', path: '/reload', tls: trusted })).status).toBe(401);
    const ok = await call(s.port, { method: 'POST', path: '/reload', tls: trusted, headers: basicAuth('u', 'p') });
    expect([ok.status, ok.text]).toEqual([202, 'reload scheduled']);
  });

  it('verify_client optional: reads work without a certificate, writes need one (403)', async () => {
    const { backend } = await threeNodeCluster();
    const s = await startApi(backend, { ...tlsFiles(), verify_client: 'optional' });
    server = s.server;
    expect((await call(s.port, { path: '/health', tls: { ca: pem('ca.crt') } })).status).toBe(200);
    const denied = await call(s.port, { method: 'POST', path: '/reload', tls: { ca: pem('ca.crt') } });
    expect([denied.status, denied.text]).toEqual([403, 'client certificate required']);
    const ok = await call(s.port, { method: 'POST', path: '/reload', tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') } });
    expect(ok.status).toBe(202);
  });

  it('serves the dashboard over the same TLS: reads without a client certificate, actions only with one and credentials', async () => {
    const { backend } = await threeNodeCluster();
    const s = await startApi(backend, { ...tlsFiles(), verify_client: 'optional', authentication: { username: 'u', password: 'p' } });
    server = s.server;
    const anon = { ca: pem('ca.crt') };
    await expect(call(s.port, { path: '/dashboard/' })).rejects.toThrow(); // plain http is not spoken
    expect((await call(s.port, { path: '/dashboard/', tls: anon })).status).toBe(200);
    expect((await call(s.port, { path: '/dashboard/state', tls: anon })).json()).toMatchObject({ self: 'node1', authRequired: true });
    const pause = { method: 'POST', path: '/dashboard/action', body: { action: 'pause' }, headers: { 'Content-Type': 'application/json', ...basicAuth('u', 'p') } };
    expect((await call(s.port, { ...pause, tls: anon })).status).toBe(403);
    const withCert = { ...anon, cert: pem('client.crt'), key: pem('client.key') };
    expect((await call(s.port, { ...pause, headers: { 'Content-Type': 'application/json' }, tls: withCert })).status).toBe(401);
    const ok = await call(s.port, { ...pause, tls: withCert });
    expect([ok.status, ok.text]).toEqual([200, 'Cluster paused']);
  });

  it('reload() re-binds a running server from http to https, and restores the previous settings when the new ones fail', async () => {
    const { backend } = await threeNodeCluster();
    const s = await startApi(backend);
    server = s.server;
    expect((await call(s.port, { path: '/health' })).status).toBe(200);
    await s.server.reload({ listen: '127.0.0.1:0', ...tlsFiles() });
    expect(s.server.isHttps).toBe(true);
    const port = s.server.address!.port;
    expect((await call(port, { path: '/health', tls: { ca: pem('ca.crt') } })).status).toBe(200);
    await expect(s.server.reload({ listen: '127.0.0.1:0', certfile: join(dir, 'missing.crt') })).rejects.toThrow(/missing\.crt/);
    expect(s.server.isHttps).toBe(true);
    const after = s.server.address!.port;
    expect((await call(after, { path: '/health', tls: { ca: pem('ca.crt') } })).status).toBe(200);
  });

  it('start() fails clearly on unreadable TLS files or a bad listen address', async () => {
    const { backend } = await threeNodeCluster();
    await expect(startApi(backend, { certfile: join(dir, 'missing.crt') })).rejects.toThrow(/missing\.crt/);
    await expect(startApi(backend, { listen: 'localhost' })).rejects.toThrow('expected <HOST>:<PORT> for "listen"');
  });
});
