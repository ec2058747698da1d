import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpAnswerTooLarge, httpRequest } from './http-request.js';

let base = '';
let seen: { method?: string; body: string; headers: IncomingMessage['headers'] } = { body: '', headers: {} };
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    seen = { method: req.method, body, headers: req.headers };
    if (req.url === '/big') return res.end('x'.repeat(5000));
    if (req.url === '/hang') return res.writeHead(200, { 'content-length': '100' }).write('partial');
    if (req.url === '/reset') {
      res.writeHead(200, { 'content-length': '100' }).write('partial');
      return setTimeout(() => res.socket?.destroy(), 50);
    }
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', lsn: '42' }).end(JSON.stringify({ role: 'replica' }));
  });
});
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => { server.closeAllConnections(); server.close(); });

describe('httpRequest (node:http, the agent makes no request through fetch)', () => {
  it('returns status, headers and the body as text or JSON', async () => {
    const res = await httpRequest(`${base}/patroni`, { headers: { accept: 'application/json' } });
    expect([res.status, res.ok, res.headers.get('LSN'), res.headers.get('content-type')]).toEqual([200, true, '42', 'application/json']);
    const all: string[] = [];
    res.headers.forEach((v, k) => all.push(`${k}=${v}`));
    expect(all).toContain('lsn=42');
    expect(await res.json()).toEqual({ role: 'replica' });
    expect(await res.text()).toBe('{"role":"replica"}');
    expect(seen.headers.accept).toBe('application/json');
    const missing = await httpRequest(new URL(`${base}/missing`));
    expect([missing.status, missing.ok]).toEqual([404, false]);
  });

  it('sends a body with its length', async () => {
    await httpRequest(`${base}/failsafe`, { method: 'POST', body: '{"name":"né"}', headers: { 'content-type': 'application/json' } });
    expect([seen.method, seen.body, seen.headers['content-length']]).toEqual(['POST', '{"name":"né"}', '14']);
  });

  it('fails an answer over maxBytes, one that never ends (abort) and one cut off mid-body', async () => {
    await expect(httpRequest(`${base}/big`, {}, { maxBytes: 1000 })).rejects.toBeInstanceOf(HttpAnswerTooLarge);
    expect(await (await httpRequest(`${base}/big`, {}, { maxBytes: 5000 })).text()).toHaveLength(5000);
    const t = Date.now();
    await expect(httpRequest(`${base}/hang`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(5000);
    await expect(httpRequest(`${base}/reset`)).rejects.toThrow(/closed mid-answer|aborted|socket hang up/);
    await expect(httpRequest('ftp://127.0.0.1/x')).rejects.toThrow(/unsupported protocol/);
  });

  it("leaves fetch's undici unloaded in a process that runs the agent's modules and asks a member", async () => {
    const core = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const script = `
      const core = await import(${JSON.stringify(core)});
      const res = await core.memberHttpClient({})(${JSON.stringify(`${base}/patroni`)});
      if (res.status !== 200) throw new Error('status ' + res.status);
      console.log(process.moduleLoadList.filter((m) => /undici/.test(m)).join(',') || 'none');`;
    // Asynchronously: this process's server answers the child.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(stdout.trim()).toBe('none');
  });
});
