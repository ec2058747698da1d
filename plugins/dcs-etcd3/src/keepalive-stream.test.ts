/**
 * The keep-alive channel against a scripted HTTP/2 gRPC server on loopback: what it sends, how it
 * reads answers, and what it does with a refused token, a refused call, a dead endpoint and an
 * answer that is not for the lease asked about. (test/etcd3 runs it against real etcd.)
 */
import { once } from 'node:events';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EtcdInvalidAuthTokenError, EtcdLeaseInvalidError } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { isTransient } from './client.js';
import { KeepAliveChannel, type KeepAliveTarget } from './keepalive-stream.js';

type Script = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

const servers: Http2Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server whose streams are answered by the scripts in turn (the last one repeats). */
async function server(...scripts: Script[]): Promise<{ url: string; requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = [];
  const s = createServer();
  s.on('stream', (stream, headers) => {
    requests.push(headers);
    stream.on('error', () => undefined);
    scripts[Math.min(requests.length, scripts.length) - 1]!(stream, headers);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  servers.push(s);
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, requests };
}

/** Encodes LeaseKeepAliveResponse { header { revision }, ID, TTL } framed for gRPC. */
function answerFrame(id: bigint, ttl: number, revision: number): Buffer {
  const varint = (v: bigint) => {
    const out: number[] = [];
    while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    out.push(Number(v));
    return out;
  };
  const header = [0x18, ...varint(BigInt(revision))];
  const body = Buffer.from([0x0a, header.length, ...header, 0x10, ...varint(id), 0x18, ...varint(BigInt(ttl))]);
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
}

/** Answers every request for lease id on the stream with `ttl` (and id + `idOffset`). */
const answering = (ttl: number, opts: { idOffset?: bigint; split?: boolean } = {}): Script => (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
  stream.on('data', (chunk: Buffer) => {
    // The request is field 1 (varint) after the 5-byte prefix; decode it back.
    let id = 0n;
    for (let i = 6, shift = 0n; i < chunk.length; i++, shift += 7n) id |= BigInt(chunk[i]! & 0x7f) << shift;
    const f = answerFrame(id + (opts.idOffset ?? 0n), ttl, 77);
    if (opts.split) {
      stream.write(f.subarray(0, 4));
      setTimeout(() => stream.write(f.subarray(4)), 20);
    } else stream.write(f);
  });
};

/** Refuses the call at once: a trailers-only answer carrying grpc-status. */
const refusing = (code: number, message: string): Script => (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
};

function target(hosts: string[], token = { value: 't1', invalidated: 0 }): KeepAliveTarget & { token: typeof token } {
  return {
    hosts,
    token,
    headers: async () => ({ token: token.value, hasleader: 'true' }),
    invalidateToken: () => { token.invalidated++; token.value = `t${token.invalidated + 1}`; },
  };
}

const ID = '7587883262515520132';
const soon = () => Date.now() + 3000;

describe('KeepAliveChannel', () => {
  it('sends the call with its metadata, one message per renewal on one stream, and reads TTL and revision', async () => {
    const srv = await server(answering(20, { split: true }));
    const channel = new KeepAliveChannel(target([srv.url]));
    try {
      let sentAt = 0;
      expect(await channel.renew(ID, soon(), (t) => { sentAt = t; })).toEqual({ ttl: 20, revision: 77 });
      expect(sentAt).toBeGreaterThan(0);
      expect(await channel.renew(ID, soon(), () => undefined)).toEqual({ ttl: 20, revision: 77 });
      expect(srv.requests).toHaveLength(1);
      expect(srv.requests[0]).toMatchObject({
        ':method': 'POST', ':path': '/etcdserverpb.Lease/LeaseKeepAlive', 'content-type': 'application/grpc',
        te: 'trailers', token: 't1', hasleader: 'true',
      });
    } finally {
      channel.close();
    }
  });

  it('a refused token is dropped, so the retry opens a stream with a new one', async () => {
    const srv = await server(refusing(16, 'etcdserver: invalid auth token'), answering(20));
    const t = target([srv.url]);
    const channel = new KeepAliveChannel(t);
    try {
      const err = await channel.renew(ID, soon(), () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdInvalidAuthTokenError);
      expect(isTransient(err)).toBe(true);
      expect(t.token.invalidated).toBe(1);
      expect(await channel.renew(ID, soon(), () => undefined)).toEqual({ ttl: 20, revision: 77 });
      expect(srv.requests.map((h) => h.token)).toEqual(['t1', 't2']);
    } finally {
      channel.close();
    }
  });

  it('a call refused for good is the typed error the etcd3 client raises, not a retry', async () => {
    const srv = await server(refusing(5, 'etcdserver: requested lease not found'));
    const channel = new KeepAliveChannel(target([srv.url]));
    try {
      const err = await channel.renew(ID, soon(), () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdLeaseInvalidError);
      expect(isTransient(err)).toBe(false);
    } finally {
      channel.close();
    }
  });

  it('a grpc-message that is not valid percent-encoding is shown as it came, not thrown out of the handler', async () => {
    const srv = await server((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'bad %E0%A4%A escape' }, { endStream: true });
    });
    const channel = new KeepAliveChannel(target([srv.url]));
    try {
      const err = await channel.renew(ID, soon(), () => undefined).catch((e: unknown) => e);
      expect((err as Error).message).toContain('bad %E0%A4%A escape');
      expect(isTransient(err)).toBe(true);
    } finally {
      channel.close();
    }
  });

  it('a dead endpoint fails the renewal at once, and the next renewal goes to the next endpoint', async () => {
    const dead = await server(answering(20));
    await new Promise((r) => servers.pop()!.close(r));
    const live = await server(answering(30));
    const channel = new KeepAliveChannel(target([dead.url, live.url]));
    try {
      const t0 = performance.now();
      const err = await channel.renew(ID, soon(), () => undefined).catch((e: unknown) => e);
      expect(isTransient(err)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(await channel.renew(ID, soon(), () => undefined)).toEqual({ ttl: 30, revision: 77 });
    } finally {
      channel.close();
    }
  });

  it('an answer for another lease is not taken: the renewal runs out of time and the stream is dropped', async () => {
    const srv = await server(answering(20, { idOffset: 1n }), answering(20));
    const channel = new KeepAliveChannel(target([srv.url]));
    try {
      const err = await channel.renew(ID, Date.now() + 300, () => undefined).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/timed out/);
      expect(isTransient(err)).toBe(true);
      expect(await channel.renew(ID, soon(), () => undefined)).toEqual({ ttl: 20, revision: 77 });
      expect(srv.requests).toHaveLength(2);
    } finally {
      channel.close();
    }
  });

  it('after close, renewals fail and no stream is opened', async () => {
    const srv = await server(answering(20));
    const channel = new KeepAliveChannel(target([srv.url]));
    channel.close();
    await expect(channel.renew(ID, soon(), () => undefined)).rejects.toThrow(/closed/);
    expect(srv.requests).toHaveLength(0);
  });
});
