/**
 * The ZooKeeper DcsDriver, in Patroni's layout: znodes `/<namespace>/<scope>/<key>` holding the same
 * values as every other backend. `leader` and `members/<name>` are ephemeral znodes of this agent's
 * session (timeout = ttl); `initialize`, `config`, `failover`, `history`, `sync`, `status`,
 * `failsafe` and `optime/leader` are persistent, compare-and-swapped on the znode version.
 */
import type { DcsContext, DcsDriver, DcsNode, Leader, Logger, Version } from '@pgha/core';
import zookeeper, { type Stat } from 'node-zookeeper-client';
import { Codes, ZkSession, type SessionOptions } from './session.js';
import { LeaderWatch, leaderVersionOf } from './leader-watch.js';
import { deadline, OPEN_ACL, ownerOf, Znodes } from './znodes.js';

const { CreateMode } = zookeeper;

/** Single-znode keys under the cluster path, read by loadCluster. */
const PLAIN_KEYS = ['initialize', 'config', 'leader', 'failover', 'history', 'sync', 'status', 'failsafe'] as const;

export interface ZookeeperSettings {
  readonly connectionString: string;
  readonly connectTimeoutMs?: number;
  readonly auth?: ReadonlyArray<readonly [string, string]>;
  /** Warnings about the granted session timeout and session expiry. */
  readonly logger?: Pick<Logger, 'warn'>;
}

export class ZookeeperDriver implements DcsDriver {
  private _ttl: number;
  private retryMs: number;
  private readonly base: string;
  private readonly z: Znodes;
  private session: ZkSession;
  /** A session replaced by setTtl, kept until our keys moved to the new one. */
  private retiring: ZkSession | null = null;
  /** The session our leader znode belongs to, while we believe we hold it. */
  private leaderSession: ZkSession | null = null;
  private readonly leaderWatch: LeaderWatch;
  private closed = false;

  constructor(private readonly ctx: DcsContext, private readonly settings: ZookeeperSettings) {
    this._ttl = ctx.ttl;
    this.retryMs = ctx.retryTimeout * 1000;
    this.base = ctx.basePath.replace(/\/+$/, '');
    this.z = new Znodes(this.base, () => this.live());
    this.leaderWatch = new LeaderWatch(this.z, () => this.live());
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
    return new ZkSession(this.sessionOptions(), {
      expired: (s) => {
        if (this.leaderSession === s) this.leaderSession = null;
        this.leaderWatch.sessionGone(s);
        if (!this.closed && s === this.session) this.settings.logger?.warn(`ZooKeeper session 0x${s.id} expired: its ephemeral leader/member znodes are gone`);
        // The keys of an expired session are gone: whoever watches the leader must look again.
        this.leaderWatch.notify();
      },
      established: (s) => this.checkTimeout(s),
    });
  }

  /**
   * The server clamps the session timeout to its min/maxSessionTimeout. The leader bound follows
   * whatever it granted, but a timeout shorter than a loop cycle would drop our znodes between
   * cycles (no background pings keep the session): say so rather than flap silently.
   */
  private checkTimeout(s: ZkSession): void {
    const log = this.settings.logger;
    if (!log || this.ctx.ctl) return;
    const wanted = this._ttl * 1000;
    if (s.negotiatedMs !== wanted) {
      log.warn(`ZooKeeper granted a session timeout of ${s.negotiatedMs} ms instead of ttl ${this._ttl} s (its minSessionTimeout/maxSessionTimeout); leader and member znodes expire after ${s.negotiatedMs} ms without a request`);
    }
    if (s.negotiatedMs <= this.ctx.loopWait * 1000 + this.retryMs) {
      log.warn(`ZooKeeper session timeout ${s.negotiatedMs} ms is not longer than loop_wait + retry_timeout (${this.ctx.loopWait + this.retryMs / 1000} s): the agent's znodes may expire between HA cycles; raise the server's maxSessionTimeout or lower loop_wait`);
    }
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
    if (this.retiring && this.leaderSession === this.retiring) {
      // A second change before the leader znode moved: keep the session that holds it; the
      // in-between one held at most our member znode, which the next touchMember recreates.
      void this.session.close();
    } else {
      if (this.retiring) void this.retiring.close();
      this.retiring = this.session;
    }
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

  /** Node for the core's parser; the leader's version is its mzxid (see leaderVersionOf). */
  private toNode(key: string, data: Buffer | undefined, stat: Stat): DcsNode {
    const version = key === 'leader' ? leaderVersionOf(stat) : stat.version;
    return { key, value: data ? data.toString('utf8') : '', version, session: ownerOf(stat) };
  }

  /**
   * Patroni's loader: list the cluster znode, then read the keys present (requests pipelined on
   * the one connection). First a barrier, so the read is not stale: the server we talk to may be a
   * follower behind the leader, and ZooKeeper only promises a session its own writes. A write that
   * cannot succeed (a set on the cluster znode conditioned on version -2) still goes through the
   * leader and is committed in order as an error transaction, and our server answers it only after
   * applying everything committed before it — what `sync` does, which node-zookeeper-client lacks.
   * It changes nothing, so it is retried like a read.
   */
  async loadCluster(): Promise<DcsNode[]> {
    const left = deadline(this.retryMs);
    await this.z.read<unknown>('load cluster (barrier)', left, (c, cb) => c.setData(this.base, Buffer.alloc(0), -2, cb));
    const top = await this.z.getChildren('load cluster', this.base, left);
    if (!top.ok) return [];
    const present = new Set(top.value);
    const keys: string[] = PLAIN_KEYS.filter((k) => present.has(k));
    const lists: Array<Promise<void>> = [];
    if (present.has('members')) {
      lists.push(this.z.getChildren('load members', this.z.path('members'), left).then((r) => {
        if (r.ok) keys.push(...r.value.map((m) => `members/${m}`));
      }));
    }
    if (present.has('optime')) keys.push('optime/leader');
    await Promise.all(lists);
    const reads = await Promise.all(keys.map(async (k) => ({ k, r: await this.z.getData('load cluster', k, left) })));
    const nodes: DcsNode[] = [];
    for (const { k, r } of reads) if (r.ok) nodes.push(this.toNode(k, r.value.data, r.value.stat));
    return nodes;
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = deadline(this.retryMs);
    const session = this.live();
    const r = await this.z.create('acquire leader', 'leader', this.ctx.name, CreateMode.EPHEMERAL, left, session);
    if (r.ok) {
      this.leaderSession = session;
      return true;
    }
    if (r.code !== Codes.NODE_EXISTS) return false;
    // An earlier attempt of ours whose reply was lost may have created it.
    const cur = await this.z.getData('acquire leader', 'leader', left, session);
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
   * A znode that is gone with the session that held it (expired in an outage longer than ttl, as
   * failsafe mode rides out) is created again on the current session if nobody has taken it, as
   * Patroni does when its session changed: whether the loop sees the key vanish first (and
   * acquires) or refreshes first must not matter. One deleted while that session lived was released
   * on purpose and stays deleted; unlike Patroni, a znode someone else holds is never removed.
   */
  async updateLeader(leader: Leader): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = deadline(this.retryMs);
    const session = this.live();
    const cur = await this.z.getData('update leader', 'leader', left, session);
    if (!cur.ok && cur.code === Codes.NO_NODE && this.expiredWithSession(leader)) {
      const r = await this.z.create('recreate vanished leader', 'leader', this.ctx.name, CreateMode.EPHEMERAL, left, session);
      this.leaderSession = r.ok ? session : null;
      if (r.ok) this.retire();
      return r.ok;
    }
    if (!cur.ok || cur.value.data?.toString() !== this.ctx.name) {
      this.leaderSession = null;
      return false;
    }
    if (ownerOf(cur.value.stat) === session.id) {
      this.leaderSession = session;
      this.retire();
      return true;
    }
    const moved = await this.z.req<unknown>('recreate leader', left, (c, cb) => c.transaction()
      .remove(this.z.path('leader'), cur.value.stat.version)
      .create(this.z.path('leader'), Buffer.from(this.ctx.name), OPEN_ACL, CreateMode.EPHEMERAL)
      .commit((e, results) => cb(e, results)), session);
    // A failed multi reports the first failing op's code (BAD_VERSION / NO_NODE): the key moved on.
    this.leaderSession = moved.ok ? session : null;
    if (moved.ok) this.retire();
    return moved.ok;
  }

  /**
   * Whether the session that held the leader znode the loop last saw is gone: the one this driver
   * recorded no longer usable (expired), or, with no record (a key from before this process), the
   * owner the loop saw is not the current session.
   */
  private expiredWithSession(leader: Leader): boolean {
    if (this.leaderSession) return !this.leaderSession.usable;
    return leader.session === null || leader.session === undefined || leader.session !== this.session.id;
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const left = deadline(this.retryMs);
    const cur = await this.z.getData('delete leader', 'leader', left);
    if (!cur.ok || cur.value.data?.toString() !== this.ctx.name) return false;
    const r = await this.z.remove('delete leader', 'leader', cur.value.stat.version, left);
    if (r.ok) this.leaderSession = null;
    return r.ok;
  }

  /** Bootstrap: Patroni's take_leader is attempt_to_acquire_leader on ZooKeeper. */
  takeLeader(): Promise<boolean> {
    return this.attemptToAcquireLeader();
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    const left = deadline(this.retryMs);
    if (createNew) return (await this.z.create('initialize', 'initialize', sysid, CreateMode.PERSISTENT, left)).ok;
    return (await this.z.setOrCreate('initialize', 'initialize', sysid, null, left)) !== false;
  }

  async cancelInitialization(): Promise<boolean> {
    const r = await this.z.remove('cancel initialization', 'initialize', -1, deadline(this.retryMs));
    return r.ok || r.code === Codes.NO_NODE;
  }

  /**
   * Ephemeral `members/<name>` of the current session. Written only when the content differs; a
   * znode left by another session of ours (old ttl, previous incarnation) is replaced.
   */
  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const left = deadline(this.retryMs);
    const session = this.live();
    const key = `members/${this.ctx.name}`;
    const value = JSON.stringify(data);
    const cur = await this.z.getData('touch member', key, left, session);
    if (cur.ok && ownerOf(cur.value.stat) === session.id) {
      if (cur.value.data?.toString() !== value) {
        const r = await this.z.setData('touch member', key, value, cur.value.stat.version, left);
        if (!r.ok) return false;
      }
      this.retire();
      return true;
    }
    if (cur.ok) {
      const gone = await this.z.remove('touch member', key, cur.value.stat.version, left, session);
      if (!gone.ok && gone.code !== Codes.NO_NODE) return false;
    }
    const r = await this.z.create('touch member', key, value, CreateMode.EPHEMERAL, left, session);
    if (r.ok) this.retire();
    return r.ok;
  }

  /**
   * Close the session setTtl replaced once nothing of ours depends on it any more. Not awaited:
   * the server drops its znodes when the close arrives, and the caller's deadline is not for that.
   */
  private retire(): void {
    const old = this.retiring;
    if (!old || this.leaderSession === old) return;
    this.retiring = null;
    void old.close();
  }

  async setConfigValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.z.setOrCreate('set config', 'config', value, version, deadline(this.retryMs))) !== false;
  }

  async setFailoverValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.z.setOrCreate('set failover', 'failover', value, version, deadline(this.retryMs))) !== false;
  }

  async setHistoryValue(value: string): Promise<boolean> {
    return (await this.z.setOrCreate('set history', 'history', value, null, deadline(this.retryMs))) !== false;
  }

  setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    return this.z.setOrCreate('set sync', 'sync', value, version, deadline(this.retryMs));
  }

  /** Like Patroni on ZooKeeper: `/sync` is emptied to `{}` (CAS on the version), not removed. */
  async deleteSyncState(version?: Version | null): Promise<boolean> {
    return (await this.z.setOrCreate('delete sync', 'sync', '{}', version, deadline(this.retryMs))) !== false;
  }

  async writeStatus(value: string): Promise<boolean> {
    return (await this.z.setOrCreate('write status', 'status', value, null, deadline(this.retryMs))) !== false;
  }

  async writeFailsafe(value: string): Promise<boolean> {
    return (await this.z.setOrCreate('write failsafe', 'failsafe', value, null, deadline(this.retryMs))) !== false;
  }

  async writeLeaderOptime(lastLsn: string): Promise<boolean> {
    return (await this.z.setOrCreate('write leader optime', 'optime/leader', lastLsn, null, deadline(this.retryMs))) !== false;
  }

  /** Remove the cluster znode and everything below it, deepest first. */
  async deleteCluster(): Promise<boolean> {
    const left = deadline(this.retryMs);
    const removeTree = async (path: string): Promise<void> => {
      const kids = await this.z.getChildren('delete cluster', path, left);
      if (!kids.ok) return;
      await Promise.all(kids.value.map((k) => removeTree(`${path}/${k}`)));
      const r = await this.z.req<void>('delete cluster', left, (c, cb) => c.remove(path, -1, (e) => cb(e, undefined)));
      // Someone added a child meanwhile (an agent touching its member): go round once more.
      if (!r.ok && r.code === Codes.NOT_EMPTY) await removeTree(path);
    };
    await removeTree(this.base);
    if (this.leaderSession) this.leaderSession = null;
    return true;
  }

  /** See LeaderWatch: wakes on any change of the leader znode or the loss of our session. */
  watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    return this.leaderWatch.wait(leaderVersion, timeoutMs, signal, this.retryMs);
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
    this.leaderWatch.notify();
  }
}
