/**
 * A TCP connection carrying JSON messages in length-prefixed frames (4-byte big-endian length),
 * with a mutual HMAC-SHA256 challenge on connect, keyed by the shared `password`:
 *
 *   dialer   -> {hello, kind, id, nonce: a}
 *   listener -> {nonce: b, proof: HMAC(pw, "listener" a b)}     the dialer checks it
 *   dialer   -> {proof: HMAC(pw, "dialer" b a kind id)}          the listener checks it
 *   listener -> {ok: true}
 *
 * Without a password the key is empty: the exchange still runs (so a node with a password refuses
 * one without), it just proves nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';

const MAX_FRAME = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5000;

export type ConnectionKind = 'peer' | 'client';

export class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private queue: unknown[] = [];
  private waiter: ((m: unknown) => void) | null = null;
  private handler: ((m: unknown) => void) | null = null;
  private closed = false;
  private closeHandlers: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  get isClosed(): boolean { return this.closed; }

  send(message: unknown): boolean {
    if (this.closed) return false;
    const body = Buffer.from(JSON.stringify(message));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    return this.socket.write(Buffer.concat([head, body]));
  }

  /** Deliver every further message (and any queued ones) to `fn`. */
  onMessage(fn: (m: unknown) => void): void {
    this.handler = fn;
    for (const m of this.queue.splice(0)) fn(m);
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  /** The next message, for the handshake. */
  next(timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.queue.length) return resolve(fields(this.queue.shift()));
      if (this.closed) return reject(new Error('connection closed'));
      // Each call owns its waiter: the close handler of an earlier, answered call must not take a later one's.
      const release = () => { if (this.waiter === waiter) this.waiter = null; };
      const t = setTimeout(() => { release(); reject(new Error('handshake timed out')); }, timeoutMs);
      const waiter = (m: unknown) => { clearTimeout(t); release(); resolve(fields(m)); };
      this.waiter = waiter;
      this.onClose(() => { if (this.waiter !== waiter) return; clearTimeout(t); release(); reject(new Error('connection closed')); });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    for (const fn of this.closeHandlers.splice(0)) fn();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= 4) {
      const len = this.buffer.readUInt32BE(0);
      if (len > MAX_FRAME) return this.close();
      if (this.buffer.length < 4 + len) return;
      let message: unknown;
      try {
        message = JSON.parse(this.buffer.subarray(4, 4 + len).toString());
      } catch {
        return this.close();
      }
      this.buffer = this.buffer.subarray(4 + len);
      if (this.handler) this.handler(message);
      else if (this.waiter) this.waiter(message);
      else this.queue.push(message);
    }
  }
}

function proof(password: string, ...parts: string[]): string {
  return createHmac('sha256', password).update(parts.join('\0')).digest('hex');
}

function isRecord(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null && !Array.isArray(m);
}

/** A peer's handshake message as fields; anything but a JSON object has none, so it fails the checks below. */
function fields(m: unknown): Record<string, unknown> {
  return isRecord(m) ? m : {};
}

function same(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Dialer side; rejects when the listener cannot prove it knows the password or refuses us. */
export async function dialHandshake(c: Connection, password: string, kind: ConnectionKind, id: string): Promise<void> {
  const a = randomBytes(16).toString('hex');
  c.send({ hello: 'pgha-raft/1', kind, id, nonce: a });
  const challenge = await c.next();
  const b = String(challenge.nonce ?? '');
  if (!same(challenge.proof, proof(password, 'listener', a, b))) throw new Error('raft peer failed authentication (password mismatch?)');
  c.send({ proof: proof(password, 'dialer', b, a, kind, id) });
  const verdict = await c.next();
  if (verdict.ok !== true) throw new Error('raft peer refused authentication (password mismatch?)');
}

/** Listener side: who connected, or a rejection (and the connection is closed). */
export async function acceptHandshake(c: Connection, password: string): Promise<{ kind: ConnectionKind; id: string }> {
  try {
    const hello = await c.next();
    const kind = hello.kind === 'peer' ? 'peer' : hello.kind === 'client' ? 'client' : null;
    if (hello.hello !== 'pgha-raft/1' || !kind || typeof hello.id !== 'string') throw new Error('not a pgha raft hello');
    const a = String(hello.nonce ?? '');
    const b = randomBytes(16).toString('hex');
    c.send({ nonce: b, proof: proof(password, 'listener', a, b) });
    const answer = await c.next();
    if (!same(answer.proof, proof(password, 'dialer', b, a, kind, hello.id))) {
      c.send({ ok: false });
      throw new Error(`authentication of ${hello.id} failed`);
    }
    c.send({ ok: true });
    return { kind, id: hello.id };
  } catch (e) {
    setTimeout(() => c.close(), 50).unref();
    throw e;
  }
}
