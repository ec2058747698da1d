/**
 * The Consul DcsDriver: Patroni's key layout and values under `<namespace>/<scope>/` (no leading
 * slash, as Patroni writes it), one session per agent binding the member and leader keys (lock
 * with `acquire`), ModifyIndex compare-and-swap, and a blocking query on the leader key as watch.
 */
import { EventEmitter } from 'node:events';
import type { Agent as HttpAgent } from 'node:http';
import { sleep, type DcsContext, type DcsDriver, type DcsNode, type Leader, type Version } from '@pgha/core';
import type Consul from 'consul';
import { createConsulClient, DeadlineCaller, isInvalidSession, statusOf, type CallOptions, type ClientSettings } from './client.js';
import { ServiceRegistrar, type ServiceSettings } from './service.js';
import { AgentSession } from './session.js';

type Left = () => number;

interface KvItem {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
  Session?: string;
}

export interface ConsulDriverSettings extends ClientSettings {
  readonly checks?: readonly string[];
  readonly service?: ServiceSettings;
  readonly warn?: (msg: string) => void;
}

export class ConsulDriver implements DcsDriver {
  private _ttl: number;
  private readonly base: string;
  private readonly caller: DeadlineCaller;
  private readonly client: Consul;
  private readonly httpAgent: HttpAgent;
  private readonly session: AgentSession | null;
  private readonly services: ServiceRegistrar | null;
  /** Read consistency: ctl reads are always `consistent`; agents follow `consistency`. */
  private readonly readMode: Record<string, boolean>;
  private memberValue: string | null = null;
  /** The session that holds the leader key for us, while we believe we hold it (for leaderLeaseSentAt). */
  private leaderSession: string | null = null;
  /** After a ttl change the next watch returns at once so the loop makes the new session (Patroni). */
  private skipNextWatch = false;
  private closed = false;

  constructor(private readonly ctx: DcsContext, private readonly settings: ConsulDriverSettings) {
    this._ttl = ctx.ttl;
    this.base = ctx.basePath.replace(/^\/+/, '').replace(/\/+$/, '') + '/';
    this.caller = new DeadlineCaller(ctx.retryTimeout);
    ({ client: this.client, agent: this.httpAgent } = createConsulClient(settings));
    this.session = ctx.ctl ? null : new AgentSession(this.client, this.caller, `${ctx.scope}-${ctx.name}`, settings.checks, ctx.ttl, ctx.loopWait);
    this.services = !ctx.ctl && settings.service?.register ? new ServiceRegistrar(this.client, this.caller, ctx, settings.service, settings.warn) : null;
    const c = ctx.ctl ? 'consistent' : settings.consistency;
    this.readMode = c === 'consistent' ? { consistent: true } : c === 'stale' ? { stale: true } : {};
  }

  get ttl(): number { return this._ttl; }

  setTtl(ttl: number): void {
    this._ttl = ttl;
    if (this.session?.setTtl(ttl)) this.skipNextWatch = true;
  }

  setRetryTimeout(retryTimeout: number): void { this.caller.setRetryTimeout(retryTimeout); }

  /** The session id this agent holds (tests and diagnostics). */
  get sessionId(): string | null { return this.session?.current ?? null; }

  /**
   * A performance.now() instant T such that Consul cannot expire this agent's leader key before
   * T + ttl: the key lives as long as the session, which Consul keeps at least its TTL (ttl/2, or the
   * server minimum) after receiving the last renew, so T = last send + session TTL - ttl.
   */
  leaderLeaseSentAt(): number | null {
    // A session made since (the old one expired) does not hold the key: no lease.
    if (!this.session || this.leaderSession === null || this.session.current !== this.leaderSession) return null;
    return this.session.sentAt + (this.session.ttlSeconds - this._ttl) * 1000;
  }

  private holding(session: string | null): boolean {
    this.leaderSession = session;
    return session !== null;
  }

  private deadline(): Left {
    const until = performance.now() + this.caller.budgetMs;
    return () => until - performance.now();
  }

  private k(key: string): string { return this.base + key; }

  private call<T>(what: string, fn: (o: CallOptions) => Promise<T>, left: Left): Promise<T> {
    return this.caller.run(what, fn, left());
  }

  private async getKey(k: string, left: Left): Promise<KvItem | null> {
    const item = await this.call(`get ${k}`, (o) => this.client.kv.get({ key: this.k(k), ...this.readMode, ...o } as never) as Promise<KvItem | undefined>, left);
    return item ?? null;
  }

  private put(what: string, k: string, value: string, left: Left, extra: Record<string, unknown> = {}): Promise<boolean> {
    // Consul answers `true` or `false`; the client hands a JSON `false` back as undefined.
    return this.call(what, async (o) => (await this.client.kv.set({ key: this.k(k), value, ...extra, ...o } as never)) === true, left);
  }

  private del(what: string, k: string, left: Left, extra: Record<string, unknown> = {}): Promise<boolean> {
    return this.call(what, async (o) => (await this.client.kv.del({ key: this.k(k), ...extra, ...o } as never)) === true, left);
  }

  async loadCluster(): Promise<DcsNode[]> {
    const left = this.deadline();
    const items = await this.call('load cluster', (o) => this.client.kv.get({ key: this.base, recurse: true, ...this.readMode, ...o } as never) as unknown as Promise<KvItem[] | undefined>, left);
    return (items ?? []).map((i) => ({ key: i.Key.slice(this.base.length), value: i.Value ?? '', version: i.ModifyIndex, session: i.Session ?? null }));
  }

  /** `acquire` with my session; an unknown session (expired meanwhile) gets one new session and one more try. */
  private async acquire(what: string, k: string, value: string, left: Left, created: boolean): Promise<{ ok: boolean; session: string; created: boolean }> {
    let { id } = await this.session!.refresh(left);
    try {
      return { ok: await this.put(what, k, value, left, { acquire: id }), session: id, created };
    } catch (e) {
      if (!isInvalidSession((e as Error).cause)) throw e;
      this.session!.forget();
      ({ id } = await this.session!.refresh(left));
      return { ok: await this.put(what, k, value, left, { acquire: id }), session: id, created: true };
    }
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    if (!this.session) return false;
    const left = this.deadline();
    const st = await this.session.refresh(left);
    const res = await this.acquire('acquire leader', 'leader', this.ctx.name, left, st.created);
    if (res.created) await this.rewriteMember(left);
    if (res.ok) return this.holding(res.session);
    // An earlier attempt of ours that timed out on the way back may have taken it.
    const cur = await this.getKey('leader', left);
    return this.holding(!!cur && cur.Session === res.session && (cur.Value ?? '') === this.ctx.name ? res.session : null);
  }

  async updateLeader(leader: Leader): Promise<boolean> {
    if (!this.session) return false;
    const left = this.deadline();
    // The leader renews every cycle: this renewal is what keeps the leader key (and its lease) alive.
    // Should it fail, the last successful one still bounds the key's life (leaderLeaseSentAt keeps it).
    const st = await this.session.refresh(left, true);
    if (st.created) await this.rewriteMember(left);
    const value = Buffer.from(this.ctx.name).toString('base64');
    const cur = await this.getKey('leader', left);
    if (!cur) {
      // Gone with the session that held it (invalidated in an outage longer than ttl, as failsafe
      // mode rides out): take it again on the current session if nobody has, as Patroni does when
      // its session changed. Whether the loop sees the key vanish first (and acquires) or refreshes
      // first must not matter. A key deleted while that session lived was released on purpose.
      const heldBy = this.leaderSession ?? leader.session;
      if (heldBy === st.id) return this.holding(null);
      const taken = await this.txn('recreate vanished leader', [
        { KV: { Verb: 'check-not-exists', Key: this.k('leader') } },
        { KV: { Verb: 'lock', Key: this.k('leader'), Value: value, Session: st.id } },
      ], left);
      return this.holding(taken ? st.id : null);
    }
    if ((cur.Value ?? '') !== this.ctx.name) return this.holding(null);
    if (cur.Session === st.id) return this.holding(st.id);
    // My name under another (older) session of mine (ttl changed): move it to the current one in one
    // transaction. Patroni deletes and re-acquires, which leaves a moment with no leader key.
    this.holding(null);
    const moved = await this.txn('rebind leader', [
      { KV: { Verb: 'check-index', Key: this.k('leader'), Index: cur.ModifyIndex } },
      { KV: { Verb: 'unlock', Key: this.k('leader'), Value: value, Session: cur.Session ?? '' } },
      { KV: { Verb: 'lock', Key: this.k('leader'), Value: value, Session: st.id } },
    ], left);
    return this.holding(moved ? st.id : null);
  }

  /** A Consul transaction; null when one of its checks failed (409). */
  private txn(what: string, ops: unknown[], left: Left): Promise<{ Results?: Array<{ KV: KvItem }> } | null> {
    return this.call(what, async (o) => {
      try {
        return await (this.client.transaction.create(ops as never, o as never) as Promise<{ Results?: Array<{ KV: KvItem }> }>);
      } catch (e) {
        if (statusOf(e) === 409) return null;
        throw e;
      }
    }, left);
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const left = this.deadline();
    const cur = await this.getKey('leader', left);
    if (!cur || (cur.Value ?? '') !== this.ctx.name) return false;
    const ok = await this.del('delete leader', 'leader', left, { cas: cur.ModifyIndex });
    if (ok) this.holding(null);
    return ok;
  }

  async takeLeader(): Promise<boolean> {
    if (!this.session) return false;
    const left = this.deadline();
    if (await this.attemptToAcquireLeader()) return true;
    await this.del('take leader', 'leader', left);
    const res = await this.acquire('take leader', 'leader', this.ctx.name, left, false);
    if (res.created) await this.rewriteMember(left);
    return this.holding(res.ok ? res.session : null);
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    return this.put('initialize', 'initialize', sysid, this.deadline(), createNew ? { cas: 0 } : {});
  }

  async cancelInitialization(): Promise<boolean> {
    await this.del('cancel initialization', 'initialize', this.deadline());
    return true;
  }

  /** After a new session the member key must be bound to it (the old one went with the old session). */
  private async rewriteMember(left: Left): Promise<void> {
    if (this.memberValue !== null) await this.writeMember(this.memberValue, left);
  }

  private async writeMember(value: string, left: Left): Promise<boolean> {
    const k = `members/${this.ctx.name}`;
    let res = await this.acquire('touch member', k, value, left, false);
    if (!res.ok) {
      // Still held by an older session of ours (ttl changed): delete it and take it with the current one.
      await this.del('delete stale member', k, left);
      res = await this.acquire('touch member', k, value, left, false);
    }
    return res.ok;
  }

  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    if (!this.session) return false;
    const left = this.deadline();
    const value = JSON.stringify(data);
    const st = await this.session.refresh(left);
    if (this.services) await this.services.update(data);
    // Like Patroni: no write when neither the content nor the session changed.
    if (!st.created && value === this.memberValue) return true;
    const ok = await this.writeMember(value, left);
    if (ok) this.memberValue = value;
    return ok;
  }

  /** Version given: a one-operation transaction (CAS on ModifyIndex) that returns the new index. */
  private async casPut(what: string, k: string, value: string, version: Version | null | undefined): Promise<number | false> {
    const index = version === undefined || version === null ? null : Number(version);
    if (index !== null && !(Number.isInteger(index) && index >= 0)) return false;
    const op = { KV: { Verb: index === null ? 'set' : 'cas', Key: this.k(k), Value: Buffer.from(value).toString('base64'), ...(index === null ? {} : { Index: index }) } };
    const res = await this.txn(what, [op], this.deadline());
    return res?.Results?.[0]?.KV.ModifyIndex ?? false;
  }

  async setConfigValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.casPut('set config', 'config', value, version)) !== false;
  }

  async setFailoverValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.casPut('set failover', 'failover', value, version)) !== false;
  }

  async setHistoryValue(value: string): Promise<boolean> {
    return this.put('set history', 'history', value, this.deadline());
  }

  setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    return this.casPut('set sync', 'sync', value, version);
  }

  async deleteSyncState(version?: Version | null): Promise<boolean> {
    if (version === undefined || version === null) return this.del('delete sync', 'sync', this.deadline());
    const index = Number(version);
    if (!Number.isInteger(index) || index <= 0) return false;
    return this.del('delete sync', 'sync', this.deadline(), { cas: index });
  }

  writeStatus(value: string): Promise<boolean> { return this.put('write status', 'status', value, this.deadline()); }
  writeFailsafe(value: string): Promise<boolean> { return this.put('write failsafe', 'failsafe', value, this.deadline()); }
  writeLeaderOptime(lastLsn: string): Promise<boolean> { return this.put('write leader optime', 'optime/leader', lastLsn, this.deadline()); }

  async deleteCluster(): Promise<boolean> {
    return this.del('delete cluster', '', this.deadline(), { recurse: true });
  }

  /**
   * A blocking query on the leader key from `leaderVersion` (its ModifyIndex): Consul answers when
   * the key's index moves past it (changed, deleted, or expired with its session) or after `wait`.
   * Without a leader version (or in ctl mode) just sleep, like Patroni.
   */
  async watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.skipNextWatch) {
      this.skipNextWatch = false;
      return true;
    }
    const index = Number(leaderVersion);
    const end = performance.now() + timeoutMs;
    if (!this.session || leaderVersion === null || !Number.isInteger(index) || index <= 0) {
      await sleep(timeoutMs, signal);
      return false;
    }
    while (!signal.aborted && end - performance.now() >= 1000) {
      const waitS = Math.floor((end - performance.now()) / 1000);
      const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
      const onAbort = () => ctx.emit('cancel');
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const [res] = await (this.client.kv.get({ key: this.k('leader'), index, wait: `${waitS}s`, ctx, timeout: waitS * 1000 + Math.max(waitS * 1000 / 15, 1000) } as never) as unknown as Promise<[{ headers: Record<string, string> }]>);
        return String(res.headers['x-consul-index']) !== String(index);
      } catch {
        if (signal.aborted) return false;
        // Consul unreachable: wait a little and ask again while there is time.
        await sleep(Math.min(1000, Math.max(0, end - performance.now())), signal);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
    await sleep(Math.max(0, end - performance.now()), signal);
    return false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leaderSession = null;
    this.httpAgent.destroy();
  }
}
