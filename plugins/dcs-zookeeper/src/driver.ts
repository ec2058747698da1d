/**
 * The ZooKeeper DcsDriver, in Patroni's layout: znodes `/<namespace>/<scope>/<key>` holding the same
 * values as every other backend. `leader` and `members/<name>` are ephemeral znodes of this agent's
 * session (timeout = ttl); `initialize`, `config`, `failover`, `history`, `sync`, `status`,
 * `failsafe` and `optime/leader` are persistent, compare-and-swapped on the znode version.
 */
import { sleep, type DcsContext, type DcsDriver, type DcsNode, type Leader, type Version } from '@pgha/core';
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { Codes, ZkSession, type Reply, type SessionOptions } from './session.js';

const { CreateMode } = zookeeper;
// World-readable and -writable, as kazoo creates znodes without set_acls.
const OPEN_ACL = (zookeeper.ACL as unknown as { OPEN_ACL_UNSAFE: zookeeper.ACL[] }).OPEN_ACL_UNSAFE;

/** Single-znode keys under the cluster path, read by loadCluster. */
const PLAIN_KEYS = ['initialize', 'config', 'leader', 'failover', 'history', 'sync', 'status', 'failsafe'] as const;

type Left = () => number;

export interface ZookeeperSettings {
  readonly connectionString: string;
  readonly connectTimeoutMs?: number;
  readonly auth?: ReadonlyArray<readonly [string, string]>;
}

function isConnectionLoss(e: unknown): boolean {
  const code = (e as { cause?: { getCode?: () => number } }).cause?.getCode?.();
  return code === zookeeper.Exception.CONNECTION_LOSS || code === zookeeper.Exception.SESSION_EXPIRED ||
    /not connected|session expired|session closed/.test(e instanceof Error ? e.message : '');
}

function ownerOf(stat: Stat): string | null {
  const hex = Buffer.from(stat.ephemeralOwner).toString('hex');
  return /^0+$/.test(hex) ? null : hex;
}

export class ZookeeperDriver implements DcsDriver {
  private _ttl: number;
  private retryMs: number;
  private readonly base: string;
  private session: ZkSession;
  /** A session replaced by setTtl, kept until our keys moved to the new one. */
  private retiring: ZkSession | null = null;
  /** The session our leader znode belongs to, while we believe we hold it. */
  private leaderSession: ZkSession | null = null;
  private readonly watchers = new Set<() => void>();
  private leaderWatchArmed: ZkSession | null = null;
  private closed = false;

  constructor(private readonly ctx: DcsContext, private readonly settings: ZookeeperSettings) {
    this._ttl = ctx.ttl;
    this.retryMs = ctx.retryTimeout * 1000;
    this.base = ctx.basePath.replace(/\/+$/, '');
    this.session = this.newSession();
  }

  private sessionOptions(): SessionOptions {
    return {
      connectionString: this.settings.connectionString,
      sessionTimeoutMs: this._ttl * 1000,
      // Patroni: try each server for at most half the retry timeout, at least a second.
      connectTimeoutMs: this.settings.connectTimeoutMs ?? Math.max(1000, this.retryMs / 2),
      auth: this.settings.auth ?? [],
    };
  }

  private newSession(): ZkSession {
    return new ZkSession(this.sessionOptions(), (s) => {
      if (this.leaderSession === s) this.leaderSession = null;
      if (this.leaderWatchArmed === s) this.leaderWatchArmed = null;
      // The keys of an expired session are gone: whoever watches the leader must look again.
      this.notify();
    });
  }

  /** The live session, replacing an expired one (its ephemeral znodes are gone; the loop recreates members). */
  private live(): ZkSession {
    if (!this.session.usable && !this.closed) {
      this.session.abandon();
      this.session = this.newSession();
    }
    return this.session;
  }

  get ttl(): number { return this._ttl; }

  /** Session id (hex) this agent currently uses (tests and diagnostics). */
  get sessionId(): string | null { return this.session.id; }

  /** The server-granted session timeout, ms. */
  get negotiatedTimeoutMs(): number { return this.session.negotiatedMs; }

  /**
   * A ZooKeeper session timeout cannot change: like Patroni's set_ttl, open a new session. The old
   * one stays open until the next updateLeader/touchMember moved our znodes over, so the leader key
   * never lapses because of a reload.
   */
  setTtl(ttl: number): void {
    if (ttl === this._ttl) return;
    this._ttl = ttl;
    if (this.ctx.ctl || this.closed) return;
    if (this.retiring) void this.retiring.close();
    this.retiring = this.session;
    this.session = this.newSession();
  }

  setRetryTimeout(retryTimeout: number): void {
    this.retryMs = retryTimeout * 1000;
  }

  /**
   * The fence contract: a performance.now() instant T such that ZooKeeper cannot expire our leader
   * znode before T + ttl. The server expires a session `negotiated` ms after it last heard from
   * us, which is no earlier than the send time of the newest request it answered (`lastAckSentAt`),
   * so the key lives at least until lastAckSentAt + negotiated = T + ttl.
   */
  leaderLeaseSentAt(): number | null {
    const s = this.leaderSession;
    if (!s || !s.usable || s.lastAckSentAt === null || s.negotiatedMs <= 0) return null;
    return s.lastAckSentAt - (this._ttl * 1000 - s.negotiatedMs);
  }

  private path(key: string): string { return `${this.base}/${key}`; }

  private deadline(): Left {
    const until = performance.now() + this.retryMs;
    return () => until - performance.now();
  }

  private req<T>(what: string, left: Left, send: (c: Client, cb: (e: unknown, v: T) => void) => void, session = this.live()): Promise<Reply<T>> {
    return session.request<T>(what, left(), send);
  }

  /**
   * A read, retried within the deadline when the connection dropped under it (a server died, or
   * our session expired and the next try opens a new one). Writes are not retried blindly: one
   * may have landed, and the HA loop decides again on its next cycle.
   */
  private async read<T>(what: string, left: Left, send: (c: Client, cb: (e: unknown, v: T) => void) => void, session?: ZkSession): Promise<Reply<T>> {
    for (;;) {
      try {
        return await this.req(what, left, send, session);
      } catch (e) {
        if (left() < 100 || !isConnectionLoss(e) || (session && !session.usable)) throw e;
        await sleep(50);
      }
    }
  }

  private getData(what: string, key: string, left: Left, session?: ZkSession): Promise<Reply<{ data: Buffer | undefined; stat: Stat }>> {
    return this.read(what, left, (c, cb) => c.getData(this.path(key), (e, data, stat) => cb(e, { data, stat })), session);
  }

  private getChildren(what: string, path: string, left: Left): Promise<Reply<string[]>> {
    return this.read(what, left, (c, cb) => c.getChildren(path, (e, children) => cb(e, children)));
  }

  /** Create a znode, making its parents (persistent, empty) like kazoo's makepath. */
  private async create(what: string, key: string, value: string, mode: number, left: Left, session?: ZkSession): Promise<Reply<string>> {
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

  private setData(what: string, key: string, value: string, version: number, left: Left): Promise<Reply<Stat>> {
    return this.req(what, left, (c, cb) => c.setData(this.path(key), Buffer.from(value), version, cb));
  }

  private remove(what: string, key: string, version: number, left: Left, session?: ZkSession): Promise<Reply<void>> {
    return this.req(what, left, (c, cb) => c.remove(this.path(key), version, (e) => cb(e, undefined)), session);
  }

  private toNode(key: string, data: Buffer | undefined, stat: Stat): DcsNode {
    return { key, value: data ? data.toString('utf8') : '', version: stat.version, session: ownerOf(stat) };
  }

  /** Patroni's loader: list the cluster znode, then read the keys present (requests pipelined on the one connection). */
  async loadCluster(): Promise<DcsNode[]> {
    const left = this.deadline();
    const top = await this.getChildren('load cluster', this.base, left);
    if (!top.ok) return [];
    const present = new Set(top.value);
    const keys: string[] = PLAIN_KEYS.filter((k) => present.has(k));
    const lists: Array<Promise<void>> = [];
    if (present.has('members')) {
      lists.push(this.getChildren('load members', this.path('members'), left).then((r) => {
        if (r.ok) keys.push(...r.value.map((m) => `members/${m}`));
      }));
    }
    if (present.has('optime')) keys.push('optime/leader');
    await Promise.all(lists);
    const reads = await Promise.all(keys.map(async (k) => ({ k, r: await this.getData('load cluster', k, left) })));
    const nodes: DcsNode[] = [];
    for (const { k, r } of reads) if (r.ok) nodes.push(this.toNode(k, r.value.data, r.value.stat));
    return nodes;
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = this.deadline();
    const session = this.live();
    const r = await this.create('acquire leader', 'leader', this.ctx.name, CreateMode.EPHEMERAL, left, session);
    if (r.ok) {
      this.leaderSession = session;
      return true;
    }
    if (r.code !== Codes.NODE_EXISTS) return false;
    // An earlier attempt of ours whose reply was lost may have created it.
    const cur = await this.getData('acquire leader', 'leader', left, session);
    if (cur.ok && cur.value.data?.toString() === this.ctx.name && ownerOf(cur.value.stat) === session.id) {
      this.leaderSession = session;
      return true;
    }
    return false;
  }

  /**
   * Nothing to write while the znode is ours: the request itself keeps the session alive. A znode
   * with our name owned by another session (a ttl change, or our previous incarnation) moves to the
   * current session in one transaction conditioned on its version, as Patroni recreates it.
   */
  async updateLeader(_leader: Leader): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = this.deadline();
    const session = this.live();
    const cur = await this.getData('update leader', 'leader', left, session);
    if (!cur.ok || cur.value.data?.toString() !== this.ctx.name) {
      this.leaderSession = null;
      return false;
    }
    if (ownerOf(cur.value.stat) === session.id) {
      this.leaderSession = session;
      await this.retire(left);
      return true;
    }
    const moved = await this.req<unknown>('recreate leader', left, (c, cb) => c.transaction()
      .remove(this.path('leader'), cur.value.stat.version)
      .create(this.path('leader'), Buffer.from(this.ctx.name), OPEN_ACL, CreateMode.EPHEMERAL)
      .commit((e, results) => cb(e, results)), session);
    // A failed multi reports the first failing op's code (BAD_VERSION / NO_NODE): the key moved on.
    this.leaderSession = moved.ok ? session : null;
    if (moved.ok) await this.retire(left);
    return moved.ok;
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const left = this.deadline();
    const cur = await this.getData('delete leader', 'leader', left);
    if (!cur.ok || cur.value.data?.toString() !== this.ctx.name) return false;
    const r = await this.remove('delete leader', 'leader', cur.value.stat.version, left);
    if (r.ok) this.leaderSession = null;
    return r.ok;
  }

  /** Bootstrap: Patroni's take_leader is attempt_to_acquire_leader on ZooKeeper. */
  takeLeader(): Promise<boolean> {
    return this.attemptToAcquireLeader();
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    const left = this.deadline();
    if (createNew) return (await this.create('initialize', 'initialize', sysid, CreateMode.PERSISTENT, left)).ok;
    return (await this.setOrCreate('initialize', 'initialize', sysid, null, left)) !== false;
  }

  async cancelInitialization(): Promise<boolean> {
    const r = await this.remove('cancel initialization', 'initialize', -1, this.deadline());
    return r.ok || r.code === Codes.NO_NODE;
  }

  /**
   * Ephemeral `members/<name>` of the current session. Written only when the content differs; a
   * znode left by another session of ours (old ttl, previous incarnation) is replaced.
   */
  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = this.deadline();
    const session = this.live();
    const key = `members/${this.ctx.name}`;
    const value = JSON.stringify(data);
    const cur = await this.getData('touch member', key, left, session);
    if (cur.ok && ownerOf(cur.value.stat) === session.id) {
      if (cur.value.data?.toString() !== value) {
        const r = await this.setData('touch member', key, value, cur.value.stat.version, left);
        if (!r.ok) return false;
      }
      await this.retire(left);
      return true;
    }
    if (cur.ok) {
      const gone = await this.remove('touch member', key, cur.value.stat.version, left, session);
      if (!gone.ok && gone.code !== Codes.NO_NODE) return false;
    }
    const r = await this.create('touch member', key, value, CreateMode.EPHEMERAL, left, session);
    if (r.ok) await this.retire(left);
    return r.ok;
  }

  /** Close the session setTtl replaced once nothing of ours depends on it any more. */
  private async retire(_left: Left): Promise<void> {
    const old = this.retiring;
    if (!old || this.leaderSession === old) return;
    this.retiring = null;
    await old.close();
  }

  /**
   * Patroni's _set_or_create: version given → conditional set (a missing znode is a lost CAS);
   * none → overwrite, creating it when absent. Resolves the new znode version, or false.
   */
  private async setOrCreate(what: string, key: string, value: string, version: Version | null | undefined, left: Left): Promise<number | false> {
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

  async setConfigValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.setOrCreate('set config', 'config', value, version, this.deadline())) !== false;
  }

  async setFailoverValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.setOrCreate('set failover', 'failover', value, version, this.deadline())) !== false;
  }

  async setHistoryValue(value: string): Promise<boolean> {
    return (await this.setOrCreate('set history', 'history', value, null, this.deadline())) !== false;
  }

  setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    return this.setOrCreate('set sync', 'sync', value, version, this.deadline());
  }

  /** Like Patroni on ZooKeeper: `/sync` is emptied to `{}` (CAS on the version), not removed. */
  async deleteSyncState(version?: Version | null): Promise<boolean> {
    return (await this.setOrCreate('delete sync', 'sync', '{}', version, this.deadline())) !== false;
  }

  async writeStatus(value: string): Promise<boolean> {
    return (await this.setOrCreate('write status', 'status', value, null, this.deadline())) !== false;
  }

  async writeFailsafe(value: string): Promise<boolean> {
    return (await this.setOrCreate('write failsafe', 'failsafe', value, null, this.deadline())) !== false;
  }

  async writeLeaderOptime(lastLsn: string): Promise<boolean> {
    return (await this.setOrCreate('write leader optime', 'optime/leader', lastLsn, null, this.deadline())) !== false;
  }

  /** Remove the cluster znode and everything below it, deepest first. */
  async deleteCluster(): Promise<boolean> {
    const left = this.deadline();
    const removeTree = async (path: string): Promise<void> => {
      const kids = await this.getChildren('delete cluster', path, left);
      if (!kids.ok) return;
      await Promise.all(kids.value.map((k) => removeTree(`${path}/${k}`)));
      const r = await this.req<void>('delete cluster', left, (c, cb) => c.remove(path, -1, (e) => cb(e, undefined)));
      // Someone added a child meanwhile (an agent touching its member): go round once more.
      if (!r.ok && r.code === Codes.NOT_EMPTY) await removeTree(path);
    };
    await removeTree(this.base);
    if (this.leaderSession) this.leaderSession = null;
    return true;
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Arm one ZooKeeper watch on the leader znode at a time; it fires once for any change. */
  private async leaderStat(left: Left): Promise<Stat | null> {
    const session = this.live();
    const arm = this.leaderWatchArmed !== session;
    const r = await this.req<Stat>('watch leader', left, (c, cb) => {
      if (arm) {
        c.exists(this.path('leader'), () => {
          if (this.leaderWatchArmed === session) this.leaderWatchArmed = null;
          this.notify();
        }, cb);
      } else c.exists(this.path('leader'), cb);
    }, session);
    if (arm) this.leaderWatchArmed = session;
    return r.ok ? (r.value ?? null) : null;
  }

  /**
   * Wake when the leader znode is created, changed or deleted (its owner's session expired),
   * compared with `leaderVersion`, or when our own session expired. Without a change, sleep.
   * The look at the znode gets the usual retry_timeout budget even when the nap is shorter: a
   * tiny deadline would only misread a busy server as a hung one.
   */
  watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let done = false;
      const finish = (v: boolean | Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.watchers.delete(listener);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const listener = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.watchers.add(listener);
      this.leaderStat(this.deadline()).then((stat) => {
        if (String(stat ? stat.version : null) !== String(leaderVersion ?? null)) finish(true);
      }, (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leaderSession = null;
    // ctl mode owns no ephemeral znodes: end its session. An agent's znodes stay until its session
    // times out (the DcsDriver contract), unless it deleted them.
    if (this.ctx.ctl) await this.session.close();
    else this.session.abandon();
    this.retiring?.abandon();
    this.notify();
  }
}
