/**
 * A user-space network partition between one node and the DCS, for machines without per-node
 * network namespaces: every node reaches each etcd member through its own in-process TCP proxy
 * (one listener per node and member on a free loopback port), so one node can be cut off while
 * the others still reach the same members.
 *
 * A partition behaves like a dropped network, not like a refused one: established connections stop
 * carrying bytes in both directions, but no socket is closed or reset, so the client sees silence
 * and must notice it by its own deadlines and keepalives; new connections are accepted (the kernel
 * completes the handshake) but never forwarded. Healing destroys every connection held during the
 * partition, as a real TCP connection that lost its peer for that long would have timed out, and
 * forwards new connections again. Nothing ever resumes a held connection: bytes it lost would
 * corrupt the stream.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from '../helpers/ports.js';

/** One client connection and, while forwarding, its upstream connection. */
interface Link {
  readonly client: Socket;
  upstream: Socket | null;
  /** Black-holed: nothing is read or forwarded any more, and no close is passed on. */
  held: boolean;
}

/** A TCP proxy from a loopback port to one upstream that can black-hole its traffic. */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private blackholed = false;

  private constructor(private readonly server: Server, readonly port: number, readonly upstream: { host: string; port: number }) {
    server.on('connection', (s) => this.accept(s));
  }

  static async start(upstream: { host: string; port: number }): Promise<TcpProxy> {
    const port = await freePort();
    // pauseOnConnect: a held connection must not be read at all; allowHalfOpen: a FIN is passed on
    // as a FIN (or, while held, lost), never turned into a full close by the proxy.
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
    return new TcpProxy(server, port, upstream);
  }

  get address(): string { return `127.0.0.1:${this.port}`; }

  get partitioned(): boolean { return this.blackholed; }

  /** Open connections: forwarding, and held. */
  counts(): { forwarding: number; held: number } {
    let held = 0;
    for (const l of this.links) if (l.held) held++;
    return { forwarding: this.links.size - held, held };
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: null, held: false };
    this.links.add(link);
    client.on('error', () => undefined);
    client.on('close', () => { if (!link.held) this.drop(link); });
    if (this.blackholed) {
      // Accepted by the kernel, then silence: left paused, so its bytes sit unread.
      this.hold(link);
      return;
    }
    const up = connect({ host: this.upstream.host, port: this.upstream.port, allowHalfOpen: true });
    link.upstream = up;
    up.on('error', () => undefined);
    up.on('close', () => { if (!link.held) this.drop(link); });
    this.pipe(link, client, up);
    this.pipe(link, up, client);
    client.resume();
  }

  /** Forward `from` to `to` with backpressure, until the link is held or closed. */
  private pipe(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (link.held) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => { if (!link.held) from.resume(); });
      }
    });
    from.on('end', () => { if (!link.held) to.end(); });
  }

  private hold(link: Link): void {
    link.held = true;
    link.client.pause();
    link.upstream?.pause();
  }

  /** Both sides gone, with nothing passed on: the peer of a closed side learns by a reset, as in TCP. */
  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }

  /** Stop carrying bytes on every connection and forward no new one. */
  partition(): void {
    this.blackholed = true;
    for (const l of this.links) this.hold(l);
  }

  /** Destroy every connection held during the partition and forward new ones again. */
  heal(): void {
    this.blackholed = false;
    for (const l of [...this.links]) if (l.held) this.drop(l);
  }

  async close(): Promise<void> {
    for (const l of [...this.links]) this.drop(l);
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Every node's proxies to the DCS members, and the partition switch per node. */
export interface DcsPartition {
  /** The node's `etcd3.hosts`: its own proxies, one per member, comma-separated. */
  hostsFor(node: string): string;
  partition(node: string): void;
  heal(node: string): void;
  isPartitioned(node: string): boolean;
  proxies(node: string): readonly TcpProxy[];
  close(): Promise<void>;
}

function parseEndpoint(e: string): { host: string; port: number } {
  const u = new URL(/^[a-z]+:\/\//.test(e) ? e : `http://${e}`);
  if (!u.port) throw new Error(`endpoint ${e} has no port`);
  return { host: u.hostname, port: Number(u.port) };
}

/** Start one proxy per (node, endpoint); `endpoints` as etcd lists them (`http://127.0.0.1:2379`). */
export async function startDcsPartition(nodes: readonly string[], endpoints: readonly string[]): Promise<DcsPartition> {
  const byNode = new Map<string, TcpProxy[]>();
  try {
    for (const n of nodes) {
      const list: TcpProxy[] = [];
      byNode.set(n, list);
      for (const e of endpoints) list.push(await TcpProxy.start(parseEndpoint(e)));
    }
  } catch (e) {
    await Promise.all([...byNode.values()].flat().map((p) => p.close()));
    throw e;
  }
  const of = (node: string): TcpProxy[] => {
    const list = byNode.get(node);
    if (!list) throw new Error(`no DCS proxies for node ${node}`);
    return list;
  };
  return {
    hostsFor: (node) => of(node).map((p) => p.address).join(','),
    partition: (node) => { for (const p of of(node)) p.partition(); },
    heal: (node) => { for (const p of of(node)) p.heal(); },
    isPartitioned: (node) => of(node).some((p) => p.partitioned),
    proxies: (node) => of(node),
    close: async () => { await Promise.all([...byNode.values()].flat().map((p) => p.close())); },
  };
}
