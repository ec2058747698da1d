/**
 * A client still sending its body when the server answers must read that answer. Closing a socket
 * with unread input makes the kernel send a reset, and a client busy writing then fails on its next
 * write before it reads the response (the fuzzer's "no response" to 600 KB bodies under CI load).
 * These clients send the rest of their body only after the server had time to answer, so the reset
 * is certain, not a race, on a server that closes early.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log.js';
import { threeNodeCluster } from './fake-backend.js';
import { createApiServer, type ApiServer } from './server.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };

async function serve(): Promise<number> {
  const { backend } = await threeNodeCluster({});
  server = createApiServer(backend, { listen: '127.0.0.1:0' }, quiet, { maxBodyBytes: 64 * 1024 });
  await server.start();
  return server.address!.port;
}

interface Outcome { readonly text: string; readonly error: string | null }

/** Send `head` and the first piece of the body, then the other pieces `gapMs` apart; wait for the close. */
function slowSender(port: number, head: string, pieces: Buffer[], gapMs = 150): Promise<Outcome> {
  return new Promise((resolve) => {
    // Half-open: like a client busy writing, it goes on sending after the server's FIN.
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | null = null;
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', (e: NodeJS.ErrnoException) => { error ??= e.code ?? e.message; });
    s.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), error }));
    s.setTimeout(10_000, () => s.destroy());
    const rest = [...pieces];
    s.write(Buffer.concat([Buffer.from(head, 'latin1'), rest.shift() ?? Buffer.alloc(0)]));
    const more = () => {
      const next = rest.shift();
      if (!next || s.destroyed) { s.end(); return; }
      s.write(next, () => setTimeout(more, gapMs));
    };
    setTimeout(more, gapMs);
  });
}

const pieces = (n: number, size: number) => Array.from({ length: n }, () => Buffer.alloc(size, 0x78));

describe('REST API: answers that arrive before the body are not reset', () => {
  it('a request the parser refuses (two Content-Length headers) gets its 400 and no reset while the body still comes', async () => {
    const port = await serve();
    const body = pieces(6, 100_000);
    const out = await slowSender(port, 'DELETE /failover HTTP/1.1\r\nHost: x\r\nContent-Length: 600001\r\nContent-Length: 600002\r\nConnection: close\r\n\r\n', body);
    expect(out.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out.error).toBeNull();
  });

  it('an unsupported method with a large body gets its 501 and no reset', async () => {
    const port = await serve();
    const out = await slowSender(port, 'DELETE /liveness HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\nConnection: close\r\n\r\n', pieces(6, 100_000));
    expect(out.text).toMatch(/^HTTP\/1\.1 501 /);
    expect(out.error).toBeNull();
  });

  it('a body over the limit gets its 413 and no reset', async () => {
    const port = await serve();
    const out = await slowSender(port, 'PATCH /config HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n', pieces(3, 100_000));
    expect(out.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(out.error).toBeNull();
  });

  it('a chunked body on a route that needs a length gets its 411 and no reset', async () => {
    const port = await serve();
    const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const out = await slowSender(port, 'POST /switchover HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      [...pieces(4, 100_000).map(chunk), Buffer.from('0\r\n\r\n')]);
    expect(out.text).toMatch(/^HTTP\/1\.1 (411|401) /);
    expect(out.error).toBeNull();
  });

  it('CONNECT followed by more bytes gets its 501 and no reset', async () => {
    const port = await serve();
    const out = await slowSender(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', pieces(4, 100_000));
    expect(out.text).toMatch(/^HTTP\/1\.1 501 /);
    expect(out.error).toBeNull();
  });
});
