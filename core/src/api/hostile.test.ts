/**
 * Issue 22, REST side: deep bodies, unreadable schedules, prototype keys, CONNECT and clients that
 * hang up mid-body. Each case once crashed an agent, answered 500, switched over at once, or closed
 * without an answer.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log.js';
import { threeNodeCluster } from './fake-backend.js';
import { createApiServer, type ApiServer } from './server.js';
import { call } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

function recordingLogger() {
  const lines: Array<{ level: string; msg: string; obj: unknown }> = [];
  const at = (level: string) => (a: unknown, b?: unknown) => { lines.push(typeof a === 'string' ? { level, msg: a, obj: null } : { level, msg: String(b ?? ''), obj: a }); };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

async function serve(config?: Record<string, unknown>) {
  const { seeded, backend } = await threeNodeCluster(config ? { config } : {});
  const rec = recordingLogger();
  server = createApiServer(backend, { listen: '127.0.0.1:0' }, rec.logger, { failoverPollIntervalMs: 50, failoverPollTimeoutMs: 1000 });
  await server.start();
  return { seeded, backend, port: server.address!.port, ...rec };
}

/** Raw HTTP: what the server writes back before closing, within `ms`. */
function raw(port: number, text: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (b) => { out += b.toString(); });
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.setTimeout(ms, () => { s.destroy(); resolve(out); });
    s.write(text);
  });
}

describe('REST API under hostile input', () => {
  it('deep PATCH /config bodies get a 400 (not a 500) and /config is not touched (defects 1 and 8)', async () => {
    const { seeded, port, lines } = await serve({ ttl: 30 });
    for (const depth of [2_500, 100_000]) {
      const body = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const res = await call(port, { method: 'PATCH', path: '/config', body });
      expect([res.status, res.text]).toEqual([400, 'Bad Request: request body is not valid JSON: nested deeper than 64 levels']);
      const put = await call(port, { method: 'PUT', path: '/config', body });
      expect(put.status).toBe(400);
    }
    expect(JSON.parse(seeded.get('config')!)).toEqual({ ttl: 30 });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a "__proto__" key is a key, never Object.prototype', async () => {
    const { seeded, port } = await serve({ ttl: 30, postgresql: {} });
    const res = await call(port, { method: 'PATCH', path: '/config', body: '{"__proto__":{"polluted":1},"postgresql":{"__proto__":{"x":2}}}' });
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(seeded.get('config')).toBe('{"ttl":30,"postgresql":{"__proto__":{"x":2}},"__proto__":{"polluted":1}}');
  });

  it('an unparseable or rolled-over scheduled_at is refused and writes no /failover (defect 2)', async () => {
    const { seeded, port, backend } = await serve();
    for (const t of ['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z', '2099-02-30T10:00:00+00:00']) {
      const res = await call(port, { method: 'POST', path: '/switchover', body: { leader: 'node1', scheduled_at: t } });
      expect([res.status, res.text]).toEqual([422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601']);
      const restart = await call(port, { method: 'POST', path: '/restart', body: { schedule: t } });
      expect(restart.status).toBe(422);
    }
    expect(seeded.get('failover')).toBeUndefined();
    expect(backend.scheduled).toBeNull();
    expect(backend.calls).toEqual([]);
  });

  it('DELETE /switchover removes a /failover the agents ignore because of its schedule', async () => {
    const { seeded, port } = await serve();
    seeded.put('failover', { leader: 'node1', scheduled_at: '2099-13-45T99:99:99Z' });
    const res = await call(port, { method: 'DELETE', path: '/switchover' });
    expect([res.status, res.text]).toEqual([200, 'scheduled switchover deleted']);
  });

  it('CONNECT and Upgrade requests get an answer (defect 8)', async () => {
    const { port } = await serve();
    expect(await raw(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n[\s\S]*Unsupported method \('CONNECT'\)$/);
    expect(await raw(port, 'GET /patroni HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toMatch(/^HTTP\/1\.1 501/);
  });

  it('a client that hangs up mid-body is one info line without a stack (defect 8)', async () => {
    const { port, lines } = await serve();
    await raw(port, 'PATCH /config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"ttl": 3', 300);
    await new Promise((r) => setTimeout(r, 300));
    const relevant = lines.filter((l) => l.level !== 'debug' && !l.msg.startsWith('REST API listening'));
    expect(relevant).toHaveLength(1);
    expect(relevant[0]).toMatchObject({ level: 'info', obj: null });
    expect(relevant[0]!.msg).toMatch(/^REST API: 127\.0\.0\.1 disconnected during "PATCH \/config"$/);
    expect((await call(port, { path: '/patroni' })).status).toBe(200);
  });

  it('an optional-body action with a chunked body is refused, not run with no body (found by the fuzzer)', async () => {
    const { port, backend } = await serve();
    const res = await raw(port, 'POST /restart HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"role":"king"}\r\n0\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 4\d\d/);
    const reinit = await raw(port, 'POST /reinitialize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n');
    expect(reinit).toMatch(/^HTTP\/1\.1 411/);
    await new Promise((r) => setTimeout(r, 200));
    expect(backend.calls).toEqual([]);
  });

  it('a reload that re-binds does not wait for lingering clients, and a failed one keeps serving (found by the fuzzer)', async () => {
    const { port } = await serve();
    // Clients that never close their side: after CONNECT, after a parse error, idle, mid-request.
    const lingering = ['CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n', 'BAD\r\n\r\n', '', 'GET /patroni HTTP/1.1\r\nHo'].map((text) => {
      const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      sock.on('error', () => undefined);
      sock.on('data', () => undefined);
      if (text) sock.write(text);
      return sock;
    });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await expect(server!.reload({ listen: '127.0.0.1:0', certfile: '/nonexistent/cert.pem' })).rejects.toThrow(/ENOENT/);
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await call(server!.address!.port, { path: '/patroni' })).status).toBe(200);
    lingering.forEach((s) => s.destroy());
  });
});
