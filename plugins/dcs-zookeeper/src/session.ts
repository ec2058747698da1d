/**
 * One ZooKeeper session and the one way pgha sends requests on it.
 *
 * Liveness is driven by the HA loop, not by a background timer: the library's idle pings are
 * switched off, so the session (and with it the ephemeral leader and member znodes) lives exactly
 * as long as the agent keeps calling, and a frozen agent loses its keys `ttl` seconds after its
 * last request — the same rule as the etcd3 plugin's lease, and what the conformance kit checks.
 *
 * Requests are only written while connected (Patroni refuses to queue while connecting too): a
 * request queued during a reconnect would be sent after our deadline gave up on it, e.g. a leader
 * create landing behind the HA loop's back. A request without a reply by its deadline closes the
 * socket, so the next call reconnects, to another ensemble member when there is one.
 */
import { DcsError, ErrorCodes } from '@pgha/core';
import zookeeper, { type Client } from 'node-zookeeper-client';

export const Codes = {
  NO_NODE: zookeeper.Exception.NO_NODE,
  NODE_EXISTS: zookeeper.Exception.NODE_EXISTS,
  BAD_VERSION: zookeeper.Exception.BAD_VERSION,
  NOT_EMPTY: zookeeper.Exception.NOT_EMPTY,
} as const;

/** Outcomes a caller handles itself; every other failure becomes a DcsError. */
const EXPECTED = new Set<number>(Object.values(Codes));

/**
 * A request (or handshake) that waited this long without an answer counts as a hung server and
 * the socket is dropped; shorter waits prove nothing about the server on a busy machine.
 */
const HUNG_AFTER_MS = 1000;

export interface SessionOptions {
  /** `h1:2181,h2:2181[/chroot]`. */
  readonly connectionString: string;
  /** Requested session timeout (ttl); the server clamps it to its min/max. */
  readonly sessionTimeoutMs: number;
  /** Per-server TCP connect timeout. */
  readonly connectTimeoutMs: number;
  /** kazoo's auth_data: [scheme, credential] pairs, sent on every (re)connect. */
  readonly auth: ReadonlyArray<readonly [string, string]>;
}

export interface SessionEvents {
  /** The server ended the session (or refused our credentials): its ephemeral znodes are gone. */
  expired(s: ZkSession): void;
  /** The server granted the session (first connect). */
  established?(s: ZkSession): void;
}

/** A request's result: the value, or one of the expected ZooKeeper error codes. */
export type Reply<T> = { ok: true; value: T } | { ok: false; code: number };

type Callback<T> = (error: unknown, value: T) => void;

/** The bits of the library's connection manager we adjust (not in its type definitions). */
interface ConnectionManager {
  sessionTimeout: number;
  pingTimeout: number;
  connectTimeout: number;
  socket?: { destroy(): void };
  updateTimeout(ms: number): void;
  findNextServer(cb: (server: unknown) => void): void;
  on(event: 'state', listener: () => void): void;
  off(event: 'state', listener: () => void): void;
}

function codeOf(e: unknown): number | null {
  const c = (e as { getCode?: () => number } | null)?.getCode?.();
  return typeof c === 'number' ? c : null;
}

export class ZkSession {
  readonly client: Client;
  /** Session id as 16 hex digits (what `ephemeralOwner` holds), once connected. */
  id: string | null = null;
  /** The timeout the server granted, ms (0 until connected). */
  negotiatedMs = 0;
  /** performance.now() at which the newest request that got a reply in this session was sent. */
  lastAckSentAt: number | null = null;
  expired = false;
  closed = false;
  private readonly cm: ConnectionManager;
  private readonly changeListeners = new Set<() => void>();

  constructor(private readonly opts: SessionOptions, events: SessionEvents) {
    this.client = zookeeper.createClient(opts.connectionString, {
      sessionTimeout: opts.sessionTimeoutMs, spinDelay: 200, retries: 0,
    });
    this.cm = (this.client as unknown as { connectionManager: ConnectionManager }).connectionManager;
    // updateTimeout runs again with the negotiated timeout on every connect: keep our settings.
    const original = this.cm.updateTimeout.bind(this.cm);
    this.cm.updateTimeout = (ms: number) => {
      original(ms);
      this.cm.pingTimeout = 0; // socket.setTimeout(0): no idle pings, see the header
      this.cm.connectTimeout = Math.max(200, Math.min(this.cm.connectTimeout, opts.connectTimeoutMs));
    };
    this.cm.updateTimeout(opts.sessionTimeoutMs);
    // After close() no new connection may start (a reconnect scheduled earlier would otherwise
    // open a socket the closed manager no longer understands).
    const findNext = this.cm.findNextServer.bind(this.cm);
    this.cm.findNextServer = (cb) => { if (!this.closed) findNext((server) => { if (!this.closed) cb(server); }); };
    for (const [scheme, credential] of opts.auth) this.client.addAuthInfo(scheme, Buffer.from(credential));
    this.client.on('state', (state) => {
      if (state === zookeeper.State.SYNC_CONNECTED) {
        const fresh = this.id === null;
        this.id = this.client.getSessionId().toString('hex');
        this.negotiatedMs = this.client.getSessionTimeout();
        if (fresh) events.established?.(this);
      } else if (state === zookeeper.State.EXPIRED || state === zookeeper.State.AUTH_FAILED) {
        this.expired = true;
        this.lastAckSentAt = null;
        events.expired(this);
      }
      for (const l of [...this.changeListeners]) l();
    });
    this.client.connect();
  }

  get connected(): boolean {
    return this.client.getState() === zookeeper.State.SYNC_CONNECTED && !this.closed;
  }

  get usable(): boolean {
    return !this.expired && !this.closed;
  }

  /** Wait until connected, or throw a DcsError when `ms` passes first (or the session is gone). */
  private waitConnected(ms: number, what: string): Promise<void> {
    if (this.connected) return Promise.resolve();
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.changeListeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (this.connected) done();
        else if (!this.usable) done(new DcsError(`${what}: ZooKeeper session ${this.expired ? 'expired' : 'closed'}`));
      };
      const timer = setTimeout(() => {
        // A server that accepted the TCP connection but never answers the handshake (hung) holds
        // the library forever: drop the socket so the next attempt goes to the next server.
        if (this.usable && performance.now() - started >= HUNG_AFTER_MS) this.cm.socket?.destroy();
        done(new DcsError(`${what}: not connected to ZooKeeper (${this.opts.connectionString})`, { code: ErrorCodes.DCS_TIMEOUT }));
      }, Math.max(0, ms));
      this.changeListeners.add(check);
      check();
    });
  }

  /**
   * Send one request within `ms`. Expected error codes come back as `{ok: false}`; connection loss,
   * expiry, auth failures and timeouts throw DcsError. A reply of any kind proves the server still
   * held the session when it got the request, which was sent at `sent`.
   */
  async request<T>(what: string, ms: number, send: (client: Client, cb: Callback<T>) => void): Promise<Reply<T>> {
    const until = performance.now() + ms;
    await this.waitConnected(ms, what);
    return new Promise<Reply<T>>((resolve, reject) => {
      let settled = false;
      const sent = performance.now();
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        // No answer in time from a server we are connected to: treat it as hung, move on.
        if (performance.now() - sent >= HUNG_AFTER_MS) this.cm.socket?.destroy();
        reject(new DcsError(`${what}: no answer from ZooKeeper within the deadline`, { code: ErrorCodes.DCS_TIMEOUT }));
      }, Math.max(1, until - performance.now()));
      send(this.client, (error, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const code = codeOf(error);
        if (error === null || error === undefined || (code !== null && EXPECTED.has(code))) {
          if (!this.expired && (this.lastAckSentAt === null || sent > this.lastAckSentAt)) this.lastAckSentAt = sent;
          resolve(error ? { ok: false, code: code! } : { ok: true, value });
          return;
        }
        reject(new DcsError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      });
    });
  }

  /** Notify on any connection state change (connected, disconnected, expired). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Drop the connection without ending the session: the server expires it (and its ephemeral
   * znodes) after the session timeout, as an agent's lease outlives the agent on etcd.
   */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of [...this.changeListeners]) l();
    this.cm.socket?.destroy();
  }

  /** Close the session (its ephemeral znodes go at once when the server gets the close). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const l of [...this.changeListeners]) l();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.cm.off('state', onState);
        this.cm.socket?.destroy();
        resolve();
      };
      const onState = () => { if (this.client.getState() !== zookeeper.State.SYNC_CONNECTED) finish(); };
      // The close-session request only goes out on a live connection; never wait long for it.
      const timer = setTimeout(finish, this.client.getState() === zookeeper.State.SYNC_CONNECTED ? 1000 : 0);
      this.cm.on('state', onState);
      this.client.close();
    });
  }
}
