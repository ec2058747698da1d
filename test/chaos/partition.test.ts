/**
 * The user-space partition (partition.ts) against a local echo server: data passes through the
 * proxy; once partitioned, no byte flows either way on an open connection and the client's socket
 * stays open (silence, not an error); a new connection is accepted but never reaches the server;
 * after healing, the held connections are gone and new ones work again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { startDcsPartition, TcpProxy, type DcsPartition } from './partition.js';

interface Echo { server: Server; port: number; sockets: Socket[]; accepted: number }

async function startEcho(): Promise<Echo> {
  const port = await freePort();
  const e: Echo = { server: createServer(), port, sockets: [], accepted: 0 };
  e.server.on('connection', (s) => {
    e.accepted++;
    e.sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => e.server.listen(port, '127.0.0.1', () => r()));
  return e;
}

/** A client that records what it receives and whether its socket ended or failed. */
interface Client { socket: Socket; received: string; closed: boolean; errors: string[] }

async function dial(port: number): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1' });
  const c: Client = { socket, received: '', closed: false, errors: [] };
  socket.on('data', (d) => { c.received += d.toString(); });
  socket.on('error', (e) => c.errors.push(e.message));
  socket.on('close', () => { c.closed = true; });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(): Promise<{ echo: Echo; proxy: TcpProxy }> {
  const echo = await startEcho();
  cleanup.push(() => new Promise<void>((r) => { for (const s of echo.sockets) s.destroy(); echo.server.close(() => r()); }));
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echo.port });
  cleanup.push(() => proxy.close());
  return { echo, proxy };
}

function track(c: Client): Client {
  cleanup.push(() => { c.socket.destroy(); });
  return c;
}

describe('TcpProxy', () => {
  it('forwards both ways, black-holes without closing, and heals with fresh connections', async () => {
    const { echo, proxy } = await setup();
    const a = track(await dial(proxy.port));
    a.socket.write('ping');
    await until('the echo', () => a.received === 'ping');
    expect(proxy.counts()).toEqual({ forwarding: 1, held: 0 });

    proxy.partition();
    a.socket.write('lost');
    // The server pushing on its own: nothing reaches the client either.
    echo.sockets[0]!.write('push');
    await sleep(700);
    expect(a.received).toBe('ping');
    expect(a.closed).toBe(false);
    expect(a.errors).toEqual([]);
    expect(a.socket.destroyed).toBe(false);
    expect(echo.sockets[0]!.destroyed).toBe(false);

    // A new connection completes the handshake but never reaches the server.
    const b = track(await dial(proxy.port));
    b.socket.write('hello?');
    await sleep(500);
    expect(b.received).toBe('');
    expect(b.closed).toBe(false);
    expect(echo.accepted).toBe(1);
    expect(proxy.counts()).toEqual({ forwarding: 0, held: 2 });

    // A client giving up (FIN) is not passed on while held: the server's side stays open.
    a.socket.end();
    await sleep(300);
    expect(echo.sockets[0]!.destroyed).toBe(false);

    proxy.heal();
    await until('held connections to be destroyed', () => b.closed && echo.sockets[0]!.destroyed);
    expect(b.received).toBe('');
    expect(proxy.counts()).toEqual({ forwarding: 0, held: 0 });

    const c = track(await dial(proxy.port));
    c.socket.write('again');
    await until('the echo after healing', () => c.received === 'again');
    expect(echo.accepted).toBe(2);
  });

  it('passes a close on while forwarding, and an unreachable upstream closes the client', async () => {
    const { echo, proxy } = await setup();
    const a = track(await dial(proxy.port));
    a.socket.write('x');
    await until('the echo', () => a.received === 'x');
    echo.sockets[0]!.destroy();
    await until('the close to reach the client', () => a.closed);
    await until('the link to be dropped', () => proxy.counts().forwarding === 0);

    const dead = await TcpProxy.start({ host: '127.0.0.1', port: await freePort() });
    cleanup.push(() => dead.close());
    const b = track(await dial(dead.port));
    await until('the client to be closed', () => b.closed);
  });
});

describe('startDcsPartition', () => {
  let p: DcsPartition | null = null;
  afterEach(async () => { await p?.close(); p = null; });

  it('gives each node its own proxies and cuts off only the partitioned node', async () => {
    const e1 = await startEcho();
    const e2 = await startEcho();
    cleanup.push(() => new Promise<void>((r) => { for (const s of [...e1.sockets, ...e2.sockets]) s.destroy(); e1.server.close(() => e2.server.close(() => r())); }));
    p = await startDcsPartition(['node1', 'node2'], [`http://127.0.0.1:${e1.port}`, `127.0.0.1:${e2.port}`]);
    const hosts1 = p.hostsFor('node1').split(',');
    const hosts2 = p.hostsFor('node2').split(',');
    expect(hosts1).toHaveLength(2);
    expect(new Set([...hosts1, ...hosts2]).size).toBe(4);
    expect(() => p!.hostsFor('node3')).toThrow(/node3/);
    const port = (h: string) => Number(h.split(':')[1]);

    p.partition('node1');
    expect(p.isPartitioned('node1')).toBe(true);
    expect(p.isPartitioned('node2')).toBe(false);
    const cut = await Promise.all(hosts1.map(async (h) => track(await dial(port(h)))));
    const fine = await Promise.all(hosts2.map(async (h) => track(await dial(port(h)))));
    for (const c of [...cut, ...fine]) c.socket.write('m');
    await Promise.all(fine.map((c) => until('node2 to reach both members', () => c.received === 'm')));
    await sleep(300);
    expect(cut.map((c) => c.received)).toEqual(['', '']);

    p.heal('node1');
    await Promise.all(cut.map((c) => until('held connection closed', () => c.closed)));
    const again = track(await dial(port(hosts1[1]!)));
    again.socket.write('n');
    await until('node1 to reach the member again', () => again.received === 'n');
  });
});
