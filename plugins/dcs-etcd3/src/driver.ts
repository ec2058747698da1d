/**
 * The etcd3 DcsDriver: Patroni's key layout and values under `/<namespace>/<scope>/`, one lease
 * per agent, transactions for every conditional write, and a watch-fed cache for reads.
 */
import { sleep, type DcsContext, type DcsDriver, type DcsNode, type Leader, type Version } from '@pgha/core';
import type { Etcd3, ICompare, IKeyValue, IRequestOp, ITxnResponse } from 'etcd3';
import { PrefixCache } from './cache.js';
import { createEtcdClient, DeadlineCaller, keepAliveTarget, type ClientSettings } from './client.js';
import { prefixRange } from './keys.js';
import { AgentLease, type LeaseState } from './lease.js';

/** How long loadCluster waits for the watch to deliver what the probe says exists. */
const CATCH_UP_MS = 150;

type Left = () => number;

export class Etcd3Driver implements DcsDriver {
  private _ttl: number;
  private readonly base: string;
  private readonly caller: DeadlineCaller;
  private readonly client: Etcd3;
  private readonly lease: AgentLease | null;
  private readonly cache: PrefixCache | null;
  /** The member JSON last written, put again whenever a new lease replaces a lost one. */
  private memberValue: string | null = null;
  private closed = false;

  constructor(private readonly ctx: DcsContext, settings: ClientSettings) {
    this._ttl = ctx.ttl;
    this.base = ctx.basePath.replace(/\/+$/, '') + '/';
    this.caller = new DeadlineCaller(ctx.retryTimeout, settings.endpoints.hosts.length);
    this.client = createEtcdClient(settings, () => this.caller.attemptMs());
    // ctl mode (patronictl): no lease, no cache, every read linearizable.
    this.lease = ctx.ctl ? null : new AgentLease(this.client, this.caller, ctx.ttl, ctx.loopWait, keepAliveTarget(this.client, settings));
    this.cache = ctx.ctl ? null : new PrefixCache(this.client, this.caller, this.base);
    this.cache?.start();
  }

  get ttl(): number { return this._ttl; }

  setTtl(ttl: number): void {
    this._ttl = ttl;
    this.lease?.setTtl(ttl);
  }

  setRetryTimeout(retryTimeout: number): void {
    this.caller.setRetryTimeout(retryTimeout);
  }

  /** The lease id this agent currently holds (tests and diagnostics). */
  get leaseId(): string | null { return this.lease?.current ?? null; }

  private key(k: string): Buffer { return Buffer.from(this.base + k); }

  /** One deadline (retry_timeout) shared by every RPC of a driver method. */
  private deadline(): Left {
    const until = performance.now() + this.caller.budgetMs;
    return () => until - performance.now();
  }

  private toNode(kv: IKeyValue): DcsNode {
    const lease = String(kv.lease ?? '0');
    return { key: kv.key.toString().slice(this.base.length), value: kv.value.toString(), version: Number(kv.mod_revision), session: lease === '0' ? null : lease };
  }

  /**
   * From the watch-fed copy while its stream is up (Patroni's KVCache), once it holds this agent's
   * own last write; a range read otherwise. The watch stream carries etcd's require-leader flag
   * (client.ts), so a member cut off from the quorum ends it instead of feeding a stale copy.
   */
  async loadCluster(): Promise<DcsNode[]> {
    const left = this.deadline();
    if (this.cache?.fresh && await this.cacheReaches(this.wrote)) return this.cache.nodes();
    const range = prefixRange(this.base);
    const res = await this.caller.run('load cluster', (o) => this.client.kv.range(range, o), left());
    this.cache?.applySnapshot(res.kvs, Number(res.header.revision));
    return res.kvs.map((kv) => this.toNode(kv));
  }

  /** Revision of the newest write this driver made under the prefix: reads must include it. */
  private wrote = 0;
  private noteWrite(revision: number): void {
    this.wrote = Math.max(this.wrote, revision);
  }

  private cacheReaches(revision: number): Promise<boolean> {
    const cache = this.cache!;
    if (cache.at >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = cache.onChange(() => { if (cache.fresh && cache.at >= revision) done(true); });
      const timer = setTimeout(() => done(false), CATCH_UP_MS);
    });
  }

  private async txn(what: string, compare: ICompare[], success: IRequestOp[], failure: IRequestOp[], left: Left): Promise<ITxnResponse> {
    const res = await this.caller.run(what, (o) => this.client.kv.txn({ compare, success, failure }, o), left());
    if ((res.succeeded ? success : failure).some((op) => op.request_put || op.request_delete_range)) this.noteWrite(Number(res.header.revision));
    return res;
  }

  private async put(what: string, k: string, value: string, left: Left, lease?: string): Promise<number> {
    const res = await this.caller.run(what, (o) => this.client.kv.put({ key: this.key(k), value: Buffer.from(value), ...(lease ? { lease } : {}) }, o), left());
    this.noteWrite(Number(res.header.revision));
    return Number(res.header.revision);
  }

  private async remove(what: string, k: string, left: Left): Promise<void> {
    const res = await this.caller.run(what, (o) => this.client.kv.deleteRange({ key: this.key(k) }, o), left());
    if (Number(res.deleted) > 0) this.noteWrite(Number(res.header.revision));
  }

  private valueIs(k: string, value: string): ICompare {
    return { key: this.key(k), target: 'Value', result: 'Equal', value: Buffer.from(value) };
  }

  private absent(k: string): ICompare {
    return { key: this.key(k), target: 'Create', result: 'Equal', create_revision: 0 };
  }

  private modIs(k: string, version: Version): ICompare {
    return { key: this.key(k), target: 'Mod', result: 'Equal', mod_revision: Number(version) };
  }

  private putOp(k: string, value: string, lease?: string): IRequestOp {
    return { request_put: { key: this.key(k), value: Buffer.from(value), ...(lease ? { lease } : {}) } };
  }

  private getOp(k: string): IRequestOp {
    return { request_range: { key: this.key(k) } };
  }

  /** A valid lease; after a lost lease the member key moves to the new one. */
  private async refreshLease(left: Left, forLeader = false): Promise<LeaseState> {
    const st = await this.lease!.refresh(left, forLeader);
    if (st.renewed && this.memberValue !== null) await this.put('put member', `members/${this.ctx.name}`, this.memberValue, left, st.id);
    return st;
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    if (!this.lease) return false;
    const left = this.deadline();
    const lease = (await this.refreshLease(left, true)).id;
    const res = await this.txn('acquire leader', [this.absent('leader')], [this.putOp('leader', this.ctx.name, lease)], [this.getOp('leader')], left);
    if (res.succeeded) return this.held(true);
    // An earlier attempt of ours that timed out on the way back may have created it.
    const kv = res.responses[0]?.response_range?.kvs[0];
    return this.held(!!kv && kv.value.toString() === this.ctx.name && String(kv.lease) === lease);
  }

  async updateLeader(leader: Leader): Promise<boolean> {
    if (!this.lease) return false;
    const left = this.deadline();
    const st = await this.refreshLease(left, true);
    const lease = st.id;
    if (this.cachedLeaderIsMine(st)) return this.held(true);
    // Read-only: the key still holds my name on my lease, which the keep-alive renewed.
    const res = await this.txn('update leader', [this.valueIs('leader', this.ctx.name), { key: this.key('leader'), target: 'Lease', result: 'Equal', lease }],
      [], [this.getOp('leader')], left);
    if (res.succeeded) return this.held(true);
    const kv = res.responses[0]?.response_range?.kvs[0];
    if (!kv) {
      // Gone with a lease etcd dropped (an outage longer than ttl, as failsafe mode rides out): take
      // it again if nobody has, as Patroni's etcd3 driver does when the key it last saw was on
      // another lease than its current one. Whether the loop sees the key vanish first (and
      // acquires) or refreshes first must not matter. A key deleted while the lease it was on (my
      // current one) lived was released on purpose, and is not put back.
      const leaseReplaced = st.renewed || (leader.session !== null && String(leader.session) !== lease);
      if (!leaseReplaced) return this.held(false);
      const create = await this.txn('recreate leader', [this.absent('leader')], [this.putOp('leader', this.ctx.name, lease)], [], left);
      return this.held(create.succeeded);
    }
    if (kv.value.toString() !== this.ctx.name) return this.held(false);
    // Still my name but on an older lease (lease lost or ttl changed): move it to the current one.
    const rebind = await this.txn('rebind leader', [this.valueIs('leader', this.ctx.name)], [this.putOp('leader', this.ctx.name, lease)], [], left);
    return this.held(rebind.succeeded);
  }

  /**
   * The usual refresh, without a transaction (a gRPC call is most of an idle leader's CPU): the
   * keep-alive just renewed my lease, and the watch-fed copy shows the leader key with my name on that
   * lease, the copy having applied everything up to the revision the keep-alive's answer carried and
   * my own last write. A key on a live lease changes only by a write, and a write the answering
   * member had applied is at or below that revision, so the copy has it. Anything else (a stale or
   * lagging copy, the key on an older lease, writes elsewhere in etcd moving the revision past the
   * copy's) takes the transaction. What this can miss: a write committed but not yet applied on the
   * member that answered, for the milliseconds until it applies; then the watch wakes the loop, as
   * for a write just after a transaction. Patroni trusts its watch cache with no revision check.
   */
  private cachedLeaderIsMine(st: LeaseState): boolean {
    const cache = this.cache;
    // No revision (none sent, a new lease, or an answer without a header): nothing to compare with.
    if (!st.revision || !cache?.fresh) return false;
    if (cache.at < st.revision || cache.at < this.wrote) return false;
    const kv = cache.get('leader');
    return kv !== undefined && kv.value === this.ctx.name && kv.lease === st.id;
  }

  /** The leader key lives on the agent's lease: its TTL runs from when the last keep-alive was sent. */
  leaderLeaseSentAt(): number | null {
    return this.holdsLeader ? this.lease?.sentAt ?? null : null;
  }

  /** Whether the last leader-key operation left the key ours (for leaderLeaseSentAt). */
  private holdsLeader = false;
  private held(ok: boolean): boolean {
    this.holdsLeader = ok;
    return ok;
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const left = this.deadline();
    const res = await this.txn('delete leader', [this.valueIs('leader', this.ctx.name)], [{ request_delete_range: { key: this.key('leader') } }], [], left);
    if (res.succeeded) this.held(false);
    return res.succeeded;
  }

  async takeLeader(): Promise<boolean> {
    if (!this.lease) return false;
    const left = this.deadline();
    await this.put('take leader', 'leader', this.ctx.name, left, (await this.refreshLease(left, true)).id);
    return this.held(true);
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    const left = this.deadline();
    if (!createNew) {
      await this.put('initialize', 'initialize', sysid, left);
      return true;
    }
    const res = await this.txn('initialize', [this.absent('initialize')], [this.putOp('initialize', sysid)], [], left);
    return res.succeeded;
  }

  async cancelInitialization(): Promise<boolean> {
    await this.remove('cancel initialization', 'initialize', this.deadline());
    return true;
  }

  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    if (!this.lease) return false;
    const left = this.deadline();
    const value = JSON.stringify(data);
    const { id, renewed } = await this.lease.refresh(left);
    const k = `members/${this.ctx.name}`;
    const cached = this.cache?.fresh ? this.cache.get(k) : undefined;
    // Like Patroni: no write when neither the content nor the lease changed.
    if (!renewed && cached && cached.value === value && cached.lease === id) {
      this.memberValue = value;
      return true;
    }
    await this.put('touch member', k, value, left, id);
    this.memberValue = value;
    return true;
  }

  /** Version given: compare-and-swap on mod_revision. Resolves the new revision, or false. */
  private async casPut(what: string, k: string, value: string, version: Version | null | undefined): Promise<number | false> {
    const left = this.deadline();
    if (version === undefined || version === null) return this.put(what, k, value, left);
    if (!Number.isFinite(Number(version))) return false;
    const res = await this.txn(what, [this.modIs(k, version)], [this.putOp(k, value)], [], left);
    return res.succeeded ? Number(res.header.revision) : false;
  }

  async setConfigValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.casPut('set config', 'config', value, version)) !== false;
  }

  async setFailoverValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.casPut('set failover', 'failover', value, version)) !== false;
  }

  async setHistoryValue(value: string): Promise<boolean> {
    await this.put('set history', 'history', value, this.deadline());
    return true;
  }

  setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    return this.casPut('set sync', 'sync', value, version);
  }

  async deleteSyncState(version?: Version | null): Promise<boolean> {
    const left = this.deadline();
    if (version === undefined || version === null) {
      await this.remove('delete sync', 'sync', left);
      return true;
    }
    if (!Number.isFinite(Number(version))) return false;
    const res = await this.txn('delete sync', [this.modIs('sync', version)], [{ request_delete_range: { key: this.key('sync') } }], [], left);
    return res.succeeded;
  }

  async writeStatus(value: string): Promise<boolean> {
    await this.put('write status', 'status', value, this.deadline());
    return true;
  }

  async writeFailsafe(value: string): Promise<boolean> {
    await this.put('write failsafe', 'failsafe', value, this.deadline());
    return true;
  }

  async writeLeaderOptime(lastLsn: string): Promise<boolean> {
    await this.put('write leader optime', 'optime/leader', lastLsn, this.deadline());
    return true;
  }

  async deleteCluster(): Promise<boolean> {
    const range = prefixRange(this.base);
    const res = await this.caller.run('delete cluster', (o) => this.client.kv.deleteRange(range, o));
    if (Number(res.deleted) > 0) this.noteWrite(Number(res.header.revision));
    return true;
  }

  /**
   * Wake when the cached leader key's mod_revision differs from `leaderVersion` (changed, deleted
   * or expired: a lease expiry arrives as a DELETE event). Without a cache (ctl) just sleep.
   */
  async watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const cache = this.cache;
    if (!cache) {
      await sleep(timeoutMs, signal);
      return false;
    }
    const want = String(leaderVersion ?? null);
    const changed = () => String(cache.get('leader')?.modRevision ?? null) !== want;
    // Only trust the copy for an immediate answer when it is fresh; a stale copy waits for a resync.
    if (leaderVersion !== null && cache.fresh && changed()) return true;
    if (signal.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const finish = (v: boolean) => {
        clearTimeout(timer);
        off();
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => finish(false);
      const off = cache.onChange((key) => { if (key === 'leader' && changed()) finish(true); });
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lease?.close();
    await this.cache?.close();
    this.client.close();
  }
}
