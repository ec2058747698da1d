/**
 * The agent's lease keep-alives go over one long-lived LeaseKeepAlive stream, as etcd's own clientv3
 * keeps them: a renewal is one message on an open stream instead of a new gRPC call (call setup,
 * metadata, HTTP/2 headers and trailers each time).
 *
 * The stream is plain HTTP/2 (node:http2) with the messages written and read by lease-wire.ts, on
 * its own connection to etcd, not through the etcd3 client's grpc-js channel. A leader renews every
 * cycle, and grpc-js's layers made that renewal the largest single cost of an idle primary:
 * measured against one etcd, about 1.15 ms of CPU per renewal through grpc-js and 0.55 ms this way.
 * The call metadata (auth token, require-leader flag) comes from the etcd3 client (client.ts
 * keepAliveTarget), so both connections authenticate the same way.
 *
 * One renewal is in flight at a time (they are queued), so an answer belongs to the request before
 * it. A renewal that fails or runs out of time drops the stream: a late answer can never be taken
 * for the next request, and the next renewal opens a new stream, on the next endpoint when the
 * failure was the connection's or the server's.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { castGrpcError, EtcdInvalidAuthTokenError } from 'etcd3';
import type { TlsFiles } from './config.js';
import { decodeKeepAliveResponse, encodeKeepAliveRequest, GrpcMessageReader } from './lease-wire.js';

/** Where and how to open the stream: built from the etcd3 client's settings (client.ts). */
export interface KeepAliveTarget {
  /** `http://host:port` or `https://host:port`, as the client uses them. */
  readonly hosts: readonly string[];
  readonly tls?: TlsFiles;
  /** The call metadata every etcd call carries (lower-case header names). */
  headers(): Promise<Record<string, string>>;
  /** etcd refused the auth token: the next headers() gets a new one. */
  invalidateToken(): void;
}

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

interface OpenStream {
  readonly session: ClientHttp2Session;
  readonly stream: ClientHttp2Stream;
  /** Failed or dropped: its later events (close after an error, a late answer) mean nothing. */
  dead: boolean;
}

/** Worth another attempt on a new stream (client.ts isTransient reads the mark). */
const transient = (message: string) => Object.assign(new Error(message), { transient: true });

const GRPC_STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** A grpc-status other than OK as the typed error the etcd3 client would raise for it. */
function statusError(code: number, message: string): Error {
  const text = `${code} ${GRPC_STATUS_NAMES[code] ?? 'UNKNOWN'}: ${message}`;
  return castGrpcError(Object.assign(new Error(text), { code }));
}

/** grpc-message is percent-encoded; one that is not validly so is shown as it came (never a throw). */
function grpcMessage(raw: unknown): string {
  const text = String(raw ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class KeepAliveChannel {
  private current: OpenStream | null = null;
  private opening: Promise<OpenStream> | null = null;
  private waiter: Waiter | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private hostIndex = 0;
  private frame: { id: string; bytes: Buffer } | null = null;

  constructor(private readonly target: KeepAliveTarget) {}

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
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop(transient('lease keepalive timed out'), true);
        reject(transient('lease keepalive timed out'));
      }, Math.max(0, deadline - Date.now()));
    });
    try {
      const { stream } = await Promise.race([this.open(), expired]);
      return await Promise.race([expired, new Promise<Renewal>((resolve, reject) => {
        this.waiter = { id, resolve, reject };
        onSend(performance.now());
        stream.write(this.requestFor(id));
      })]);
    } finally {
      clearTimeout(timer);
      this.waiter = null;
    }
  }

  private requestFor(id: string): Buffer {
    if (this.frame?.id !== id) this.frame = { id, bytes: encodeKeepAliveRequest(id) };
    return this.frame.bytes;
  }

  private open(): Promise<OpenStream> {
    if (this.current) return Promise.resolve(this.current);
    this.opening ??= this.connect().finally(() => { this.opening = null; });
    return this.opening;
  }

  private async connect(): Promise<OpenStream> {
    const headers = await this.target.headers();
    const host = this.target.hosts[this.hostIndex % this.target.hosts.length]!;
    const tls = this.target.tls;
    const session = connect(host, tls ? { ca: tls.rootCertificate, cert: tls.certChain, key: tls.privateKey } : {});
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({
        ...headers,
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/etcdserverpb.Lease/LeaseKeepAlive',
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [constants.HTTP2_HEADER_TE]: 'trailers',
      });
    } catch (e) {
      session.destroy(); // e.g. a header value HTTP/2 refuses: no connection left behind
      throw e;
    }
    const s: OpenStream = { session, stream, dead: false };
    const reader = new GrpcMessageReader();
    const fail = (e: unknown, rotate: boolean) => { if (!s.dead) this.drop(e, rotate, s); };
    /** grpc-status arrives in trailers, or in the headers of a trailers-only answer (a refused call). */
    const status = (h: Record<string, unknown>, ended: boolean) => {
      const code = h['grpc-status'] === undefined ? null : Number(h['grpc-status']);
      if (code === null && !ended) return;
      if (code === null || code === 0) return fail(transient('lease keepalive stream ended'), true);
      const e = statusError(code, grpcMessage(h['grpc-message']));
      if (e instanceof EtcdInvalidAuthTokenError) this.target.invalidateToken();
      fail(e, true);
    };
    stream.on('response', (h) => status(h, false));
    stream.on('trailers', (h) => status(h, true));
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const msg of reader.push(chunk)) {
          const answer = decodeKeepAliveResponse(msg);
          const w = this.waiter;
          if (!s.dead && w && answer.id === w.id) w.resolve({ ttl: answer.ttl, revision: answer.revision });
        }
      } catch (e) {
        fail(e, true);
      }
    });
    stream.on('error', (e) => fail(transient(`lease keepalive: ${e.message}`), true));
    stream.on('close', () => fail(transient('lease keepalive stream ended'), true));
    session.on('error', (e) => fail(transient(`lease keepalive connection: ${e.message}`), true));
    session.on('goaway', () => fail(transient('lease keepalive: etcd closed the connection'), true));
    session.on('close', () => fail(transient('lease keepalive connection closed'), true));
    if (this.closed) {
      session.destroy();
      throw new Error('lease keepalive: the client is closed');
    }
    this.current = s;
    return s;
  }

  /**
   * Forget stream `s` (default: the current one), closing its connection, and fail the renewal
   * waiting on it; `rotate`: the next stream tries the next endpoint.
   */
  private drop(e: unknown, rotate: boolean, s: OpenStream | null = this.current): void {
    if (!s || s.dead) return;
    s.dead = true;
    s.session.destroy();
    if (this.current !== s) return;
    this.current = null;
    if (rotate) this.hostIndex++;
    this.waiter?.reject(e);
    this.waiter = null;
  }

  close(): void {
    this.closed = true;
    this.drop(new Error('lease keepalive: the client is closed'), false);
    this.waiter?.reject(new Error('lease keepalive: the client is closed'));
    this.waiter = null;
  }
}
