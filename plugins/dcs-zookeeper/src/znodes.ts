/**
 * The znode operations the driver is built from, on the cluster path, each within a deadline:
 * reads retried across a dropped connection, creates that make their parents (kazoo's makepath),
 * and Patroni's set-or-create with an optional version compare-and-swap.
 */
import { sleep, type Version } from '@pgha/core';
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { Codes, type Reply, type ZkSession } from './session.js';

const { CreateMode } = zookeeper;
// World-readable and -writable, as kazoo creates znodes without set_acls.
export const OPEN_ACL = (zookeeper.ACL as unknown as { OPEN_ACL_UNSAFE: zookeeper.ACL[] }).OPEN_ACL_UNSAFE;

/** Milliseconds left of a call's budget. */
export type Left = () => number;

export function deadline(ms: number): Left {
  const until = performance.now() + ms;
  return () => until - performance.now();
}

export function isConnectionLoss(e: unknown): boolean {
  const code = (e as { cause?: { getCode?: () => number } }).cause?.getCode?.();
  return code === zookeeper.Exception.CONNECTION_LOSS || code === zookeeper.Exception.SESSION_EXPIRED ||
    /not connected|session expired|session closed/.test(e instanceof Error ? e.message : '');
}

export function ownerOf(stat: Stat): string | null {
  const hex = Buffer.from(stat.ephemeralOwner).toString('hex');
  return /^0+$/.test(hex) ? null : hex;
}

export class Znodes {
  constructor(private readonly base: string, private readonly live: () => ZkSession) {}

  path(key: string): string { return `${this.base}/${key}`; }

  req<T>(what: string, left: Left, send: (c: Client, cb: (e: unknown, v: T) => void) => void, session = this.live()): Promise<Reply<T>> {
    return session.request<T>(what, left(), send);
  }

  /**
   * A read, retried within the deadline when the connection dropped under it (a server died, or
   * our session expired and the next try opens a new one). Writes are not retried blindly: one
   * may have landed, and the HA loop decides again on its next cycle.
   */
  async read<T>(what: string, left: Left, send: (c: Client, cb: (e: unknown, v: T) => void) => void, session?: ZkSession): Promise<Reply<T>> {
    for (;;) {
      try {
        return await this.req(what, left, send, session);
      } catch (e) {
        if (left() < 100 || !isConnectionLoss(e) || (session && !session.usable)) throw e;
        await sleep(50);
      }
    }
  }

  getData(what: string, key: string, left: Left, session?: ZkSession): Promise<Reply<{ data: Buffer | undefined; stat: Stat }>> {
    return this.read(what, left, (c, cb) => c.getData(this.path(key), (e, data, stat) => cb(e, { data, stat })), session);
  }

  getChildren(what: string, path: string, left: Left): Promise<Reply<string[]>> {
    return this.read(what, left, (c, cb) => c.getChildren(path, (e, children) => cb(e, children)));
  }

  /** Create a znode, making its parents (persistent, empty) like kazoo's makepath. */
  async create(what: string, key: string, value: string, mode: number, left: Left, session?: ZkSession): Promise<Reply<string>> {
    const p = this.path(key);
    const once = () => this.req<string>(what, left, (c, cb) => c.create(p, Buffer.from(value), OPEN_ACL, mode, cb), session);
    let r = await once();
    if (!r.ok && r.code === Codes.NO_NODE) {
      const parent = p.slice(0, p.lastIndexOf('/'));
      const made = await this.req<string>(`${what} (parents)`, left, (c, cb) => c.mkdirp(parent, cb), session);
      if (!made.ok && made.code !== Codes.NODE_EXISTS) return made;
      r = await once();
    }
    return r;
  }

  setData(what: string, key: string, value: string, version: number, left: Left): Promise<Reply<Stat>> {
    return this.req(what, left, (c, cb) => c.setData(this.path(key), Buffer.from(value), version, cb));
  }

  remove(what: string, key: string, version: number, left: Left, session?: ZkSession): Promise<Reply<void>> {
    return this.req(what, left, (c, cb) => c.remove(this.path(key), version, (e) => cb(e, undefined)), session);
  }

  /**
   * Patroni's _set_or_create: version given → conditional set (a missing znode is a lost CAS);
   * none → overwrite, creating it when absent. Resolves the new znode version, or false.
   */
  async setOrCreate(what: string, key: string, value: string, version: Version | null | undefined, left: Left): Promise<number | false> {
    if (version !== null && version !== undefined) {
      const v = Number(version);
      if (!Number.isInteger(v) || v < 0) return false;
      const r = await this.setData(what, key, value, v, left);
      return r.ok ? r.value.version : false;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await this.setData(what, key, value, -1, left);
      if (r.ok) return r.value.version;
      if (r.code !== Codes.NO_NODE) return false;
      const c = await this.create(what, key, value, CreateMode.PERSISTENT, left);
      if (c.ok) return 0;
      if (c.code !== Codes.NODE_EXISTS) return false;
    }
    return false;
  }
}
