import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberHttpClient, pluginFetch } from './member-http.js';

let base = '';
let last: { method?: string; url?: string; body: string; headers: IncomingMessage['headers'] } = { body: '', headers: {} };
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    last = { method: req.method, url: req.url, body, headers: req.headers };
    if (req.url === '/empty') return res.writeHead(204).end();
    res.writeHead(201, { 'content-type': 'application/json', lsn: '7' }).end(JSON.stringify({ got: body }));
  });
});
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe("the plugin API's http service (WHATWG fetch over the agent's member client)", () => {
  const f = pluginFetch(memberHttpClient({ restapi: { authentication: { username: 'u', password: 'p' } } }));

  it('sends method, headers, body and the configured credentials; answers a real Response', async () => {
    const res = await f(`${base}/failsafe`, { method: 'POST', body: '{"a":1}', headers: { 'Content-Type': 'application/json', 'X-Trace': 't1' } });
    expect(res).toBeInstanceOf(Response);
    expect([res.status, res.ok, res.headers.get('lsn'), res.headers.get('content-type')]).toEqual([201, true, '7', 'application/json']);
    expect(await res.json()).toEqual({ got: '{"a":1}' });
    expect(last).toMatchObject({ method: 'POST', url: '/failsafe', body: '{"a":1}' });
    expect(last.headers).toMatchObject({ 'content-type': 'application/json', 'x-trace': 't1', authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
  });

  it('takes a Request, and a URL; a bodyless status gives a null body', async () => {
    const res = await f(new Request(`${base}/patroni`, { method: 'PUT', body: 'x', headers: { authorization: 'Bearer mine' } }));
    expect(await res.json()).toEqual({ got: 'x' });
    expect(last).toMatchObject({ method: 'PUT', body: 'x' });
    expect(last.headers.authorization).toBe('Bearer mine'); // the caller's own credentials win
    await f(`${base}/form`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    expect(last).toMatchObject({ body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } });
    const empty = await f(new URL(`${base}/empty`));
    expect([empty.status, empty.body]).toEqual([204, null]);
  });

  it('rejects as fetch does when nothing answers', async () => {
    await expect(f('http://127.0.0.1:1/patroni', { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});
