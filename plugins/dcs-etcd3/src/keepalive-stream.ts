/**
 * The agent's lease keep-alives go over one long-lived LeaseKeepAlive stream, as etcd's own clientv3
 * keeps them: a renewal is one message on an open stream instead of a new gRPC call (call setup,
 * metadata, HTTP/2 headers and trailers each time).
 *
 * One renewal is in flight at a time (they are queued), so an answer belongs to the request before
 * it. A renewal that fails or runs out of time drops the stream: a late answer can never be taken
 * for the next request, and the next renewal opens a new stream (on another endpoint, when the
 * client's breaker skips this one).
 */
import type { Etcd3 } from 'etcd3';

type KeepAliveStream = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>;

/** What etcd answered to one renewal. */
export interface Renewal {
  /** The TTL granted, in seconds; 0 when the lease is gone. */
  readonly ttl: number;
  /** The store revision the answering member had applied when it took the request (its header; 0 if none). */
  readonly revision: number;
}

interface Waiter {
  readonly id: string;
  resolve(r: Renewal): void;
  reject(e: unknown): void;
}

/** Worth another attempt on a new stream (client.ts isTransient reads the mark). */
const transient = (message: string) => Object.assign(new Error(message), { transient: true });

export class KeepAliveChannel {
  private stream: KeepAliveStream | null = null;
  private opening: Promise<KeepAliveStream> | null = null;
  private waiter: Waiter | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly client: Etcd3) {}

  /**
   * Renew lease `id`; resolves the TTL etcd granted (0: the lease is gone) and the answer's revision.
   * `onSend` gets the performance.now() at which the request was written, after any wait for an
   * earlier one.
   */
  renew(id: string, deadline: number, onSend: (t: number) => void): Promise<Renewal> {
    const run = this.queue.then(() => this.renewNow(id, deadline, onSend));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async renewNow(id: string, deadline: number, onSend: (t: number) => void): Promise<Renewal> {
    if (this.closed) throw new Error('lease keepalive: the client is closed');
    const left = () => Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop(transient('lease keepalive timed out'));
        reject(transient('lease keepalive timed out'));
      }, left());
    });
    try {
      const stream = await Promise.race([this.open(), expired]);
      return await Promise.race([expired, new Promise<Renewal>((resolve, reject) => {
        this.waiter = { id, resolve, reject };
        onSend(performance.now());
        stream.write({ ID: id });
      })]);
    } finally {
      clearTimeout(timer);
      this.waiter = null;
    }
  }

  private open(): Promise<KeepAliveStream> {
    if (this.stream) return Promise.resolve(this.stream);
    this.opening ??= (async () => {
      // No deadline: the stream lives across renewals; each renewal has its own timer.
      const s = await this.client.leaseClient.leaseKeepAlive();
      s.on('data', (res: { ID: string; TTL: string; header?: { revision?: string } }) => {
        const w = this.waiter;
        if (this.stream === s && w && String(res.ID) === w.id) w.resolve({ ttl: Number(res.TTL), revision: Number(res.header?.revision ?? 0) });
      });
      const ended = (e: unknown) => { if (this.stream === s) this.drop(e); };
      s.on('error', ended);
      s.on('end', () => ended(transient('lease keepalive stream ended')));
      if (this.closed) s.cancel();
      else this.stream = s;
      return s;
    })().finally(() => { this.opening = null; });
    return this.opening;
  }

  /** Forget the stream (cancelled) and fail the renewal waiting on it. */
  private drop(e: unknown): void {
    const s = this.stream;
    this.stream = null;
    this.waiter?.reject(e);
    this.waiter = null;
    s?.cancel();
  }

  close(): void {
    this.closed = true;
    this.drop(new Error('lease keepalive: the client is closed'));
  }
}
