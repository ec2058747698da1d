import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { threeNodeCluster } from './fake-backend.js';
import { patchConfig } from './merge-patch.js';
import { formatLsn, parseIntWithUnit, parseSchedule, postgresVersionToInt } from './parsing.js';
import { parseListen } from './server.js';
import { call, startApi } from './test-client.js';

describe('request value parsers', () => {
  it('parse integers with PostgreSQL units like Patroni\'s parse_int', () => {
    expect(['1024', 1024, ' 10 ', '10MB', '1kB', '2GB', '10mb', '1.5MB', 'x', '', 1.5, null].map((v) => parseIntWithUnit(v, 'B')))
      .toEqual([1024, 1024, 10, 10485760, 1024, 2147483648, null, null, null, null, null, null]);
    expect(['30', '5min', '1h', '1500ms', '2d'].map((v) => parseIntWithUnit(v, 's'))).toEqual([30, 300, 3600, 2, 172800]);
  });

  it('convert PostgreSQL versions', () => {
    expect(['16.3', '10.0', '9.6.24', '16.3.1'].map(postgresVersionToInt)).toEqual([160003, 100000, 90624, 160301]);
    for (const bad of ['9.6', '16', '1.2.3.4', 'a.b']) expect(() => postgresVersionToInt(bad)).toThrow(/Invalid PostgreSQL/);
  });

  it('parse schedules with mandatory timezone', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseSchedule('2024-01-01T00:59:59+01:00', 'restart', now)).toMatchObject({ ok: false, status: 422 });
    expect(parseSchedule('2024-01-01T01:00:00Z', 'restart', now)).toMatchObject({ ok: true });
    expect(parseSchedule(12, 'restart', now)).toMatchObject({ ok: false, status: 422 });
  });

  it('format LSNs as PostgreSQL does', () => {
    expect([0, 67394000, 2 ** 32 + 16].map(formatLsn)).toEqual(['0/0', '0/40459D0', '1/10']);
  });

  it('parse restapi.listen', () => {
    expect(parseListen('127.0.0.1:8008')).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(parseListen('[::1]:8008')).toEqual({ host: '::1', port: 8008 });
    expect(parseListen(':8008')).toEqual({ host: undefined, port: 8008 });
    expect(parseListen('*:8008')).toEqual({ host: undefined, port: 8008 });
    expect(() => parseListen('8008x')).toThrow();
  });
});

describe('patchConfig (PATCH /config semantics)', () => {
  it('deletes on null, merges objects, replaces scalars only when their text differs', () => {
    const cfg: Record<string, unknown> = { ttl: 30, a: { b: 1, c: 2 }, s: '10', keep: null };
    expect(patchConfig(cfg, { s: 10 })).toBe(false);
    expect(patchConfig(cfg, { nothing: null, keep: null })).toBe(false);
    expect(patchConfig(cfg, { ttl: null, a: { c: null, d: 4 }, n: { x: 1 } })).toBe(true);
    expect(cfg).toEqual({ a: { b: 1, d: 4 }, s: '10', n: { x: 1 } });
    expect(patchConfig(cfg, { a: 5 })).toBe(true);
    expect(cfg.a).toBe(5);
  });
});

describe('malformed HTTP', () => {
  it('a garbage request line gets 400 and the server keeps serving', async () => {
    const { backend } = await threeNodeCluster();
    const { server, port } = await startApi(backend);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => sock.write('\x00\x01garbage\r\n\r\n'));
        let data = '';
        sock.on('data', (d) => { data += d.toString(); });
        sock.on('end', () => resolve(data));
        sock.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
      expect((await call(port, { path: '/health' })).status).toBe(200);
      expect((await call(port, { path: '/%zz?x=%%' })).status).toBe(503);
      expect((await call(port, { path: '/replica?lag=%%' })).status).toBe(400);
    } finally {
      await server.stop();
    }
  });
});
