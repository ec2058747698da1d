/**
 * A member's TCP side: one listening socket for peers and clients (told apart by the handshake),
 * and one outbound connection per peer for Raft traffic. Sends never block: messages queue while a
 * link (re)connects and are dropped beyond a bound, which Raft tolerates (it retransmits).
 */
import { createConnection, createServer, type Server } from 'node:net';
import type { NodeId } from '../raft/messages.js';
import type { Transport, WireMessage } from '../raft/node.js';
import { parseAddr } from './address.js';
import { acceptHandshake, Connection, dialHandshake } from './connection.js';

const MAX_QUEUED = 1000;
const RECONNECT_MS = 200;

export interface TcpEndpointOptions {
  readonly selfId: NodeId;
  readonly bindAddr: string;
  readonly password: string;
  readonly onPeerMessage: (m: WireMessage) => void;
  readonly onClient: (c: Connection) => void;
  readonly log?: (msg: string) => void;
}

class PeerLink {
  private conn: Connection | null = null;
  private connecting = false;
  private queue: WireMessage[] = [];
  private retryAt = 0;
  closed = false;

  constructor(private readonly to: NodeId, private readonly opts: TcpEndpointOptions) {}

  send(m: WireMessage): void {
    if (this.conn && !this.conn.isClosed) {
      this.conn.send(m);
      return;
    }
    if (this.queue.length < MAX_QUEUED) this.queue.push(m);
    this.connect();
  }

  private connect(): void {
    if (this.connecting || this.closed || Date.now() < this.retryAt) return;
    this.connecting = true;
    const { host, port } = parseAddr(this.to);
    const socket = createConnection({ host, port });
    const conn = new Connection(socket);
    const fail = () => {
      this.connecting = false;
      this.conn = null;
      this.queue = [];
      this.retryAt = Date.now() + RECONNECT_MS;
    };
    socket.once('connect', () => {
      dialHandshake(conn, this.opts.password, 'peer', this.opts.selfId).then(() => {
        this.connecting = false;
        if (this.closed) return conn.close();
        this.conn = conn;
        conn.onClose(() => { if (this.conn === conn) fail(); });
        for (const m of this.queue.splice(0)) conn.send(m);
      }, (e: unknown) => {
        this.opts.log?.(`raft: link to ${this.to}: ${e instanceof Error ? e.message : String(e)}`);
        conn.close();
        fail();
      });
    });
    conn.onClose(() => { if (this.connecting) fail(); });
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
  }
}

export class TcpEndpoint implements Transport {
  private server: Server | null = null;
  private links = new Map<NodeId, PeerLink>();
  private inbound = new Set<Connection>();

  constructor(private readonly opts: TcpEndpointOptions) {}

  listen(): Promise<void> {
    const { host, port } = parseAddr(this.opts.bindAddr);
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(new Connection(socket)));
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        this.server = server;
        resolve();
      });
    });
  }

  send(to: NodeId, message: WireMessage): void {
    let link = this.links.get(to);
    if (!link) this.links.set(to, (link = new PeerLink(to, this.opts)));
    link.send(message);
  }

  private accept(c: Connection): void {
    this.inbound.add(c);
    c.onClose(() => this.inbound.delete(c));
    acceptHandshake(c, this.opts.password).then(({ kind, id }) => {
      if (kind === 'client') return this.opts.onClient(c);
      c.onMessage((m) => {
        // The authenticated peer may only speak for itself.
        const msg = m as WireMessage;
        if (msg && typeof msg === 'object' && msg.from === id && msg.to === this.opts.selfId) this.opts.onPeerMessage(msg);
      });
    }, (e: unknown) => this.opts.log?.(`raft: rejected a connection: ${e instanceof Error ? e.message : String(e)}`));
  }

  async close(): Promise<void> {
    for (const l of this.links.values()) l.close();
    for (const c of this.inbound) c.close();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
