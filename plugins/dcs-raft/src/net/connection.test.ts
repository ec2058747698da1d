import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, acceptHandshake, dialHandshake } from './connection.js';

/** A connected pair over loopback: [dialer side, listener side]. */
async function pair(): Promise<{ dialer: Connection; listener: Connection; server: Server }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return { dialer: new Connection(socket), listener: new Connection(await accepted), server };
}

const open: Array<{ dialer: Connection; listener: Connection; server: Server }> = [];
afterEach(async () => {
  for (const p of open.splice(0)) {
    p.dialer.close();
    p.listener.close();
    await new Promise<void>((resolve) => p.server.close(() => resolve()));
  }
});

describe('raft connection handshake', () => {
  it('completes with the same password on both sides', async () => {
    const p = await pair();
    open.push(p);
    const [, who] = await Promise.all([dialHandshake(p.dialer, 'pw', 'peer', 'n1'), acceptHandshake(p.listener, 'pw')]);
    expect(who).toEqual({ kind: 'peer', id: 'n1' });
  });

  it('refuses a listener with another password', async () => {
    const p = await pair();
    open.push(p);
    void acceptHandshake(p.listener, 'other').catch(() => undefined);
    await expect(dialHandshake(p.dialer, 'pw', 'peer', 'n1')).rejects.toThrow('raft peer failed authentication (password mismatch?)');
  });

  for (const reply of [null, [1, 2], 'text', 7]) {
    it(`treats a reply that is not an object (${JSON.stringify(reply)}) as a failed proof`, async () => {
      const p = await pair();
      open.push(p);
      p.listener.onMessage(() => p.listener.send(reply));
      await expect(dialHandshake(p.dialer, 'pw', 'peer', 'n1')).rejects.toThrow('raft peer failed authentication (password mismatch?)');
    });
  }

  it('rejects a hello that is not an object as not a pgha raft hello', async () => {
    const p = await pair();
    open.push(p);
    const listening = acceptHandshake(p.listener, 'pw');
    p.dialer.send(null);
    await expect(listening).rejects.toThrow('not a pgha raft hello');
  });

  it('a peer that disconnects during a later handshake step fails the wait at once (no hang)', async () => {
    const p = await pair();
    open.push(p);
    p.dialer.send({ step: 1 });
    expect(await p.listener.next()).toEqual({ step: 1 });
    const second = p.listener.next(60_000);
    p.dialer.close();
    await expect(second).rejects.toThrow('connection closed');
  });
});
