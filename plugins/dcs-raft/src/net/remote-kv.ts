/**
 * KvApi over TCP to any of a list of members (ctl mode, and agents whose Raft member runs in another
 * process). On a broken connection it moves to the next member and retries until the deadline;
 * writes carry a request id chosen here, so a retry through another member applies at most once.
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { KvUnavailableError, type KvApi } from '../kv/api.js';
import type { KvCommand, KvEntry, KvResult } from '../kv/commands.js';
import { parseAddr } from './address.js';
import { Connection, dialHandshake } from './connection.js';
import type { KvRequest, KvResponse } from './kv-server.js';

type Pending = { resolve: (r: KvResponse) => void };
type RequestBody = KvRequest extends infer R ? (R extends KvRequest ? Omit<R, 'id'> : never) : never;

export class RemoteKv implements KvApi {
  private conn: Promise<Connection> | null = null;
  private next = 0;
  private seq = 0;
  private pending = new Map<number, Pending>();
  private readonly clientId = `client-${process.pid}-${randomBytes(6).toString('hex')}`;
  private closed = false;

  constructor(private readonly addrs: readonly string[], private readonly password = '') {
    if (addrs.length === 0) throw new Error('RemoteKv needs at least one raft member address');
  }

  async list(prefix: string, timeoutMs: number): Promise<KvEntry[]> {
    return (await this.call({ op: 'list', prefix, timeoutMs }, timeoutMs)) as KvEntry[];
  }

  async submit(cmd: KvCommand, timeoutMs: number, rid = `${this.clientId}-${++this.seq}`): Promise<KvResult> {
    return (await this.call({ op: 'submit', cmd, rid, timeoutMs }, timeoutMs)) as KvResult;
  }

  async waitChange(key: string, version: number | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const started = Date.now();
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return (await this.call({ op: 'wait', key, version, timeoutMs }, timeoutMs + 2000, ac.signal)) as boolean;
    } catch {
      // No member reachable: sleep out the watch rather than spin; the next read reports the outage.
      const rest = timeoutMs - (Date.now() - started);
      if (rest > 0 && !signal?.aborted) await new Promise<void>((r) => { const t = setTimeout(r, rest); signal?.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); });
      return false;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = null;
    if (c) (await c.catch(() => null))?.close();
  }

  private async call(body: RequestBody, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no raft member reachable';
    while (!this.closed && Date.now() < deadline && !signal?.aborted) {
      let conn: Connection;
      try {
        conn = await this.connection(Math.max(1, deadline - Date.now()));
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const res = await this.request(conn, { ...body, timeoutMs: Math.max(0, deadline - Date.now()) } as RequestBody, deadline - Date.now() + 500, signal);
      if (res === null) continue; // connection lost: try the next member
      if (res.ok) return res.result;
      if (!res.unavailable) throw new Error(res.error);
      throw new KvUnavailableError(res.error);
    }
    if (signal?.aborted) return false;
    throw new KvUnavailableError(lastError);
  }

  private request(conn: Connection, body: RequestBody, timeoutMs: number, signal?: AbortSignal): Promise<KvResponse | null> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      const finish = (r: KvResponse | null) => {
        clearTimeout(t);
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => finish({ id, ok: true, result: false });
      const t = setTimeout(() => finish({ id, ok: false, error: 'no answer from raft member', unavailable: true }), Math.max(1, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, { resolve: finish });
      conn.onClose(() => finish(null));
      conn.send({ id, ...body });
    });
  }

  private connection(timeoutMs: number): Promise<Connection> {
    if (this.conn) return this.conn;
    const addr = this.addrs[this.next++ % this.addrs.length]!;
    const attempt = new Promise<Connection>((resolve, reject) => {
      const { host, port } = parseAddr(addr);
      const conn = new Connection(createConnection({ host, port }));
      const t = setTimeout(() => { conn.close(); reject(new Error(`connect to ${addr} timed out`)); }, Math.min(timeoutMs, 3000));
      conn.socket.once('connect', () => {
        dialHandshake(conn, this.password, 'client', this.clientId).then(() => {
          clearTimeout(t);
          conn.onMessage((m) => this.pending.get((m as KvResponse).id)?.resolve(m as KvResponse));
          resolve(conn);
        }, (e: unknown) => { clearTimeout(t); reject(e); conn.close(); });
      });
      conn.onClose(() => { clearTimeout(t); reject(new Error(`connection to ${addr} failed`)); });
    });
    this.conn = attempt;
    attempt.then((c) => c.onClose(() => { if (this.conn === attempt) this.conn = null; }), () => { if (this.conn === attempt) this.conn = null; });
    return attempt;
  }
}
