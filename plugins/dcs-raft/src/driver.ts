/**
 * The DcsDriver over the replicated KV store. Keys are `<basePath>/<key>`; version = Raft index of
 * the last modification. Leader and member keys carry TTL = ttl and are refreshed by re-setting them
 * (conditioned on holding our name for the leader); expiry is decided by the Raft leader's clock.
 */
import { DcsError, ErrorCodes, type DcsContext, type DcsDriver, type DcsNode, type Leader, type Version } from '@pgha/core';
import { KvUnavailableError, type KvApi } from './kv/api.js';
import type { KvCommand, KvResult } from './kv/commands.js';

export class RaftDriver implements DcsDriver {
  private _ttl: number;
  private retryTimeout: number;
  private readonly base: string;
  private leaderSentAt: number | null = null;
  /** The last leader-key write of ours was a delete (a release): nothing of ours can expire. */
  private released = false;

  /** `onClose` releases what the driver owns (a local member, or a client connection). */
  constructor(private readonly kv: KvApi, private readonly ctx: DcsContext, private readonly onClose: () => Promise<void> = () => kv.close()) {
    this._ttl = ctx.ttl;
    this.retryTimeout = ctx.retryTimeout;
    this.base = ctx.basePath + '/';
  }

  get ttl(): number { return this._ttl; }
  setTtl(ttl: number): void { this._ttl = ttl; }
  setRetryTimeout(retryTimeout: number): void { this.retryTimeout = retryTimeout; }

  /** Answer a little before the facade's own retry_timeout deadline, with our own error. */
  private get budgetMs(): number { return Math.max(500, this.retryTimeout * 1000 - 250); }
  private get ttlMs(): number { return this._ttl * 1000; }
  private k(key: string): string { return this.base + key; }

  private async run(cmd: KvCommand): Promise<KvResult> {
    try {
      return await this.kv.submit(cmd, this.budgetMs);
    } catch (e) {
      throw toDcsError(e);
    }
  }

  private async ok(cmd: KvCommand): Promise<boolean> { return (await this.run(cmd)).ok; }

  async loadCluster(): Promise<DcsNode[]> {
    try {
      const entries = await this.kv.list(this.base, this.budgetMs);
      return entries.map((e) => ({ key: e.key.slice(this.base.length), value: e.value, version: e.index }));
    } catch (e) {
      throw toDcsError(e);
    }
  }

  /**
   * A write of the leader key (acquire, refresh, take). Its TTL starts when the Raft leader applies
   * it, never before we sent it: the send time of the last successful one bounds the key's expiry.
   */
  private async setLeader(cmd: KvCommand): Promise<boolean> {
    const sent = performance.now();
    const ok = await this.ok(cmd);
    if (ok) {
      this.leaderSentAt = sent;
      this.released = false;
    }
    return ok;
  }

  leaderLeaseSentAt(): number | null { return this.leaderSentAt; }

  attemptToAcquireLeader(): Promise<boolean> {
    return this.setLeader({ op: 'set', key: this.k('leader'), value: this.ctx.name, ttlMs: this.ttlMs, ifAbsent: true });
  }

  /**
   * A key that is gone when it may have expired is set again if still absent, as Patroni's Raft
   * driver does (an outage longer than ttl, which failsafe mode rides out): whether the loop sees
   * the key vanish first (and acquires) or refreshes first must not matter. The Raft leader expires
   * a key no earlier than ttl after it applied our last write of it, so a key gone sooner than that
   * after the write was sent was deleted on purpose and stays deleted, as one we released.
   */
  async updateLeader(_leader: Leader): Promise<boolean> {
    const write = { op: 'set', key: this.k('leader'), value: this.ctx.name, ttlMs: this.ttlMs } as const;
    const asked = performance.now();
    if (await this.setLeader({ ...write, prevValue: this.ctx.name })) return true;
    const mayHaveExpired = this.leaderSentAt === null ? !this.released : asked - this.leaderSentAt >= this.ttlMs;
    return mayHaveExpired && this.setLeader({ ...write, ifAbsent: true });
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const ok = await this.ok({ op: 'del', key: this.k('leader'), prevValue: this.ctx.name });
    if (ok) {
      this.leaderSentAt = null;
      this.released = true;
    }
    return ok;
  }

  takeLeader(): Promise<boolean> {
    return this.setLeader({ op: 'set', key: this.k('leader'), value: this.ctx.name, ttlMs: this.ttlMs });
  }

  initialize(createNew: boolean, sysid: string): Promise<boolean> {
    return this.ok({ op: 'set', key: this.k('initialize'), value: sysid, ttlMs: null, ...(createNew ? { ifAbsent: true } : {}) });
  }

  cancelInitialization(): Promise<boolean> { return this.ok({ op: 'del', key: this.k('initialize') }); }

  touchMember(data: Record<string, unknown>): Promise<boolean> {
    return this.ok({ op: 'set', key: this.k(`members/${this.ctx.name}`), value: JSON.stringify(data), ttlMs: this.ttlMs });
  }

  private cas(key: string, value: string, version?: Version | null): Promise<KvResult> {
    const prev = version === undefined || version === null ? {} : { prevIndex: Number(version) };
    return this.run({ op: 'set', key: this.k(key), value, ttlMs: null, ...prev });
  }

  async setConfigValue(value: string, version?: Version | null) { return (await this.cas('config', value, version)).ok; }
  async setFailoverValue(value: string, version?: Version | null) { return (await this.cas('failover', value, version)).ok; }
  async setHistoryValue(value: string) { return (await this.cas('history', value)).ok; }
  async setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    const r = await this.cas('sync', value, version);
    return r.ok ? r.index : false;
  }

  deleteSyncState(version?: Version | null): Promise<boolean> {
    const prev = version === undefined || version === null ? {} : { prevIndex: Number(version) };
    return this.ok({ op: 'del', key: this.k('sync'), ...prev });
  }

  async writeStatus(value: string) { return (await this.cas('status', value)).ok; }
  async writeFailsafe(value: string) { return (await this.cas('failsafe', value)).ok; }
  async writeLeaderOptime(lsn: string) { return (await this.cas('optime/leader', lsn)).ok; }

  deleteCluster(): Promise<boolean> { return this.ok({ op: 'delPrefix', prefix: this.base }); }

  watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const version = leaderVersion === null ? null : Number(leaderVersion);
    return this.kv.waitChange(this.k('leader'), version, timeoutMs, signal);
  }

  close(): Promise<void> { return this.onClose(); }
}

function toDcsError(e: unknown): unknown {
  if (e instanceof KvUnavailableError) return new DcsError(`raft: ${e.message}`, { cause: e, code: ErrorCodes.DCS_TIMEOUT });
  return e instanceof DcsError ? e : new DcsError(`raft: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
