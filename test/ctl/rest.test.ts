/**
 * The ctl REST client against real HTTP and HTTPS servers on 127.0.0.1: endpoint URLs, Basic auth
 * from ctl.authentication with the restapi fallback, certificate verification, -k and client certs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient, restSettingsFromConfig } from '../../cli/src/ctl/rest.js';

interface Seen { method?: string; url?: string; auth?: string; body: string; clientCert: boolean }

let dir: string;
const servers: Array<http.Server | https.Server> = [];

function listen(server: http.Server | https.Server, seen: Seen): Promise<number> {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const peer = req.socket instanceof TLSSocket ? req.socket.getPeerCertificate() : null;
      Object.assign(seen, { method: req.method, url: req.url, auth: req.headers.authorization, body, clientCert: !!peer && Object.keys(peer).length > 0 });
      res.writeHead(202, { 'Content-Type': 'text/plain' });
      res.end('reload scheduled');
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCerts(): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca');
  for (const [name, san] of [['server', 'IP:127.0.0.1'], ['client', 'DNS:client']] as const) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=${san}\\n' > ${name}.ext && openssl x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 1 -extfile ${name}.ext`], { cwd: dir, stdio: 'pipe' });
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-ctl-rest-'));
  makeCerts();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

describe('ctl REST client', () => {
  it('replaces the api_url path by the endpoint, sends JSON and ctl Basic auth', async () => {
    const seen: Seen = { body: '', clientCert: false };
    const port = await listen(http.createServer(), seen);
    const client = new RestClient(restSettingsFromConfig({ ctl: { authentication: { username: 'admin', password: 's3cret' } }, restapi: { authentication: { username: 'x', password: 'y' } } }));
    const r = await client.request({ name: 'n1', apiUrl: `http://127.0.0.1:${port}/patroni` }, 'post', 'restart', { schedule: 'x' });
    expect(r).toEqual({ status: 202, text: 'reload scheduled' });
    expect(seen).toMatchObject({ method: 'POST', url: '/restart', auth: `Basic ${Buffer.from('admin:s3cret').toString('base64')}`, body: '{"schedule":"x"}' });
  });

  it('falls back to restapi.authentication and restapi.cafile; -k overrides ctl.insecure', () => {
    const s = restSettingsFromConfig({ restapi: { authentication: { username: 'u', password: 1234 }, cafile: '/ca.pem' } });
    expect(s).toMatchObject({ auth: { username: 'u', password: '1234' }, cacert: '/ca.pem', insecure: false });
    expect(restSettingsFromConfig({ ctl: { insecure: false } }, true).insecure).toBe(true);
    expect(restSettingsFromConfig({ ctl: { insecure: true, cacert: '/c.pem' }, restapi: { cafile: '/r.pem' } })).toMatchObject({ insecure: true, cacert: '/c.pem' });
  });

  it('verifies https servers against cacert, refuses unknown ones unless insecure, presents client certs', async () => {
    const seen: Seen = { body: '', clientCert: false };
    const server = https.createServer({
      key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')),
      ca: readFileSync(join(dir, 'ca.pem')), requestCert: true, rejectUnauthorized: false,
    });
    const port = await listen(server, seen);
    const member = { name: 'n1', apiUrl: `https://127.0.0.1:${port}/patroni` };

    await expect(new RestClient(restSettingsFromConfig({})).request(member, 'GET', 'patroni')).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    expect((await new RestClient(restSettingsFromConfig({}, true)).request(member, 'GET', 'patroni')).status).toBe(202);
    expect(seen.clientCert).toBe(false);

    const verified = new RestClient(restSettingsFromConfig({ ctl: {
      cacert: join(dir, 'ca.pem'), certfile: join(dir, 'client.pem'), keyfile: join(dir, 'client.key'),
    } }));
    expect((await verified.request(member, 'POST', 'reload')).status).toBe(202);
    expect(seen.clientCert).toBe(true);
  });

  it('rejects when the member does not answer', async () => {
    const port = await listen(http.createServer(), { body: '', clientCert: false });
    await new Promise((r) => servers.pop()!.close(r));
    await expect(new RestClient({}).request({ name: 'n', apiUrl: `http://127.0.0.1:${port}/patroni` }, 'GET')).rejects.toThrow(/ECONNREFUSED/);
  });
});
