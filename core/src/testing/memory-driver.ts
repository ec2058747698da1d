/**
 * An in-memory DCS, for unit tests of core logic and of the conformance kit itself. NOT a
 * production store: one process, no persistence. Expiry emulates a per-member lease.
 */
import { EventEmitter } from 'node:events';
import type { DcsContext, DcsDriver, DcsNode } from '../dcs/driver.js';
import { DcsError } from '../errors.js';
import type { Version } from '../model/member.js';
import type { Leader } from '../model/values.js';
import { systemClock, type Clock } from '../util/clock.js';

interface Entry { value: string; version: number; session: string | null; expiresAt: number | null }

export class MemoryStore {
  readonly data = new Map<string, Entry>();
  readonly events = new EventEmitter();
  private revision = 0;
  /** Set to simulate an unreachable store: every call throws DcsError. */
  down = false;

  constructor(readonly clock: Clock = systemClock) {
    this.events.setMaxListeners(0);
  }

  /** Drop expired keys (as a lease expiry would) and announce them. */
  sweep(): void {
    const now = this.clock.monotonic();
    for (const [k, e] of this.data) {
      if (e.expiresAt !== null && e.expiresAt <= now) {
        this.data.delete(k);
        this.events.emit('change', k);
      }
    }
  }

  get(key: string): Entry | undefined {
    this.sweep();
    return this.data.get(key);
  }

  put(key: string, value: string, session: string | null, ttlMs: number | null): number {
    const version = ++this.revision;
    this.data.set(key, { value, version, session, expiresAt: ttlMs === null ? null : this.clock.monotonic() + ttlMs });
    this.events.emit('change', key);
    return version;
  }

  delete(key: string): boolean {
    const had = this.data.delete(key);
    if (had) this.events.emit('change', key);
    return had;
  }

  /** Refresh every key bound to `session` (a lease keep-alive). */
  keepAlive(session: string, ttlMs: number): void {
    const until = this.clock.monotonic() + ttlMs;
    for (const e of this.data.values()) if (e.session === session) e.expiresAt = until;
  }
}

let sessionSeq = 0;

export class MemoryDriver implements DcsDriver {
  private _ttl: number;
  private readonly session: string;
  private readonly base: string;

  constructor(private readonly store: MemoryStore, private readonly ctx: DcsContext) {
    this._ttl = ctx.ttl;
    this.session = `${ctx.name}#${++sessionSeq}`;
    this.base = ctx.basePath + '/';
  }

  private check(): void {
    if (this.store.down) throw new DcsError('memory store is down');
  }

  private k(key: string): string { return this.base + key; }
  private get ttlMs(): number { return this._ttl * 1000; }

  get ttl(): number { return this._ttl; }
  setTtl(ttl: number): void { this._ttl = ttl; }
  setRetryTimeout(): void {}

  async loadCluster(): Promise<DcsNode[]> {
    this.check();
    this.store.sweep();
    const out: DcsNode[] = [];
    for (const [key, e] of this.store.data) {
      if (key.startsWith(this.base)) out.push({ key: key.slice(this.base.length), value: e.value, version: e.version, session: e.session });
    }
    return out;
  }

  /** The store's clock starts the TTL as the call runs: that instant is the lease's send time. */
  private leaderSentAt: number | null = null;
  private released = false;
  leaderLeaseSentAt(): number | null { return this.leaderSentAt; }
  private renewed(): true {
    this.store.keepAlive(this.session, this.ttlMs);
    this.leaderSentAt = this.store.clock.monotonic();
    this.released = false;
    return true;
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    this.check();
    if (this.store.get(this.k('leader'))) return false;
    this.store.put(this.k('leader'), this.ctx.name, this.session, this.ttlMs);
    return this.renewed();
  }

  async updateLeader(_leader: Leader): Promise<boolean> {
    this.check();
    const cur = this.store.get(this.k('leader'));
    // Gone when it may have expired (ttl since the last renewal; not released by us): set it again,
    // as the contract asks. Gone sooner: deleted on purpose.
    if (!cur && (this.leaderSentAt === null ? !this.released : this.store.clock.monotonic() - this.leaderSentAt >= this.ttlMs)) return this.attemptToAcquireLeader();
    if (!cur || cur.value !== this.ctx.name) return false;
    if (cur.session !== this.session) this.store.put(this.k('leader'), this.ctx.name, this.session, this.ttlMs);
    return this.renewed();
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    this.check();
    const cur = this.store.get(this.k('leader'));
    if (!cur || cur.value !== this.ctx.name) return false;
    this.leaderSentAt = null;
    this.released = true;
    return this.store.delete(this.k('leader'));
  }

  async takeLeader(): Promise<boolean> {
    this.check();
    this.store.put(this.k('leader'), this.ctx.name, this.session, this.ttlMs);
    return this.renewed();
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    this.check();
    if (createNew && this.store.get(this.k('initialize'))) return false;
    this.store.put(this.k('initialize'), sysid, null, null);
    return true;
  }

  async cancelInitialization(): Promise<boolean> { this.check(); return this.store.delete(this.k('initialize')); }

  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    this.check();
    this.store.put(this.k(`members/${this.ctx.name}`), JSON.stringify(data), this.session, this.ttlMs);
    this.store.keepAlive(this.session, this.ttlMs);
    return true;
  }

  private cas(key: string, value: string, version?: Version | null): number | false {
    const cur = this.store.get(this.k(key));
    if (version !== undefined && version !== null && (!cur || String(cur.version) !== String(version))) return false;
    return this.store.put(this.k(key), value, null, null);
  }

  async setConfigValue(value: string, version?: Version | null) { this.check(); return this.cas('config', value, version) !== false; }
  async setFailoverValue(value: string, version?: Version | null) { this.check(); return this.cas('failover', value, version) !== false; }
  async setHistoryValue(value: string) { this.check(); return this.cas('history', value) !== false; }
  async setSyncStateValue(value: string, version?: Version | null) { this.check(); return this.cas('sync', value, version); }

  async deleteSyncState(version?: Version | null): Promise<boolean> {
    this.check();
    const cur = this.store.get(this.k('sync'));
    if (version !== undefined && version !== null && (!cur || String(cur.version) !== String(version))) return false;
    return this.store.delete(this.k('sync'));
  }

  async writeStatus(value: string) { this.check(); return this.cas('status', value) !== false; }
  async writeFailsafe(value: string) { this.check(); return this.cas('failsafe', value) !== false; }
  async writeLeaderOptime(lsn: string) { this.check(); return this.cas('optime/leader', lsn) !== false; }

  async deleteCluster(): Promise<boolean> {
    this.check();
    for (const key of [...this.store.data.keys()]) if (key.startsWith(this.base)) this.store.delete(key);
    return true;
  }

  /** Raw write for tests of tolerant parsing. */
  putRaw(key: string, value: string): void { this.store.put(this.k(key), value, null, null); }

  watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const leaderKey = this.k('leader');
      const changed = () => {
        const cur = this.store.get(leaderKey);
        return String(cur?.version ?? null) !== String(leaderVersion ?? null);
      };
      if (leaderVersion !== null && changed()) return resolve(true);
      let sweep: NodeJS.Timeout | undefined;
      const finish = (v: boolean) => {
        clearTimeout(timer);
        clearInterval(sweep);
        this.store.events.off('change', onChange);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onChange = (key: string) => { if (key === leaderKey && changed()) finish(true); };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      // Expiry is lazy in this store: sweep periodically so a watcher notices an expired leader.
      sweep = setInterval(() => this.store.sweep(), 100);
      this.store.events.on('change', onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {}
}
