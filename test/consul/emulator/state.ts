/**
 * The emulator's state machine: one Raft-like index shared by every write, the KV store with
 * Consul's CAS / lock (acquire) / unlock (release) rules, sessions with TTLs, behaviours and
 * lock-delay, and agent checks that sessions may depend on. Everything here is synchronous, like
 * Consul's state store applying one committed log entry at a time; the HTTP layer is in server.ts.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { formatDuration } from './duration.js';
import { applyTxn, type TxnOp, type TxnResult } from './txn.js';

export type { TxnOp } from './txn.js';

export interface KvEntry {
  Key: string;
  Flags: number;
  Value: Buffer | null;
  Session?: string;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface SessionEntry {
  ID: string;
  Name: string;
  Node: string;
  /** Nanoseconds, as Consul reports it. */
  LockDelay: number;
  Behavior: 'release' | 'delete';
  TTL: string;
  NodeChecks: string[];
  ServiceChecks: null;
  CreateIndex: number;
  ModifyIndex: number;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface CheckEntry {
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
  /** What the check was registered with (Consul's HealthCheckDefinition). */
  Definition?: Record<string, unknown>;
}

export interface EmulatorOptions {
  readonly datacenter: string;
  readonly nodeName: string;
  /** Consul's session_ttl_min (default 10 s). */
  readonly sessionTtlMinMs: number;
  /**
   * How much later than its TTL a session is invalidated. Real Consul arms the timer at 2 × TTL
   * (structs.SessionTTLMultiplier) and only promises "no earlier than TTL"; 1 models that earliest case.
   */
  readonly ttlMultiplier: number;
}

export class ConsulState {
  /** The Raft index: every committed write takes the next one. */
  index = 1;
  readonly kv = new Map<string, KvEntry>();
  /** Deleted keys and the index of their deletion (Consul's tombstones keep prefix indexes monotonic). */
  readonly tombstones = new Map<string, number>();
  readonly sessions = new Map<string, SessionEntry>();
  readonly checks = new Map<string, CheckEntry>();
  /** Table indexes, for X-Consul-Index of reads that find nothing. */
  kvIndex = 1;
  sessionIndex = 1;
  catalogIndex = 1;
  private readonly sessionTimers = new Map<string, NodeJS.Timeout>();
  /** performance.now() ms until which a key cannot be acquired after its lock was invalidated. */
  readonly lockDelays = new Map<string, number>();
  /** Emits 'change' after every write, for blocking queries. */
  readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(readonly opts: EmulatorOptions) {
    this.checks.set('serfHealth', {
      CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Notes: '', Output: 'Agent alive and reachable',
      ServiceID: '', ServiceName: '', Type: '',
    });
  }

  private commit(): number {
    return ++this.index;
  }

  private notify(): void {
    this.changes.emit('change');
  }

  // ---- KV ----

  get(key: string): KvEntry | undefined {
    return this.kv.get(key);
  }

  list(prefix: string): KvEntry[] {
    return [...this.kv.values()].filter((e) => e.Key.startsWith(prefix)).sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0));
  }

  /** X-Consul-Index of a single-key read: the key's ModifyIndex, else the KV table index. */
  getIndex(key: string): number {
    return this.kv.get(key)?.ModifyIndex ?? Math.max(1, this.kvIndex);
  }

  /** X-Consul-Index of a prefix read: the newest write or delete under the prefix, else the table index. */
  listIndex(prefix: string): number {
    let idx = 0;
    for (const e of this.kv.values()) if (e.Key.startsWith(prefix)) idx = Math.max(idx, e.ModifyIndex);
    for (const [k, i] of this.tombstones) if (k.startsWith(prefix)) idx = Math.max(idx, i);
    return idx || Math.max(1, this.kvIndex);
  }

  private write(key: string, value: Buffer | null, flags: number, session: string | undefined, lockIndex: number): void {
    const idx = this.commit();
    const old = this.kv.get(key);
    this.kv.set(key, { Key: key, Flags: flags, Value: value, Session: session, LockIndex: lockIndex, CreateIndex: old?.CreateIndex ?? idx, ModifyIndex: idx });
    this.tombstones.delete(key);
    this.kvIndex = idx;
    this.notify();
  }

  /** Plain set: an existing lock is kept, as Consul's kvsSetTxn retains Session and LockIndex. */
  set(key: string, value: Buffer | null, flags: number): true {
    const old = this.kv.get(key);
    this.write(key, value, flags, old?.Session, old?.LockIndex ?? 0);
    return true;
  }

  /** cas 0: only when absent; otherwise only when ModifyIndex matches. */
  cas(key: string, value: Buffer | null, flags: number, cas: number): boolean {
    const old = this.kv.get(key);
    if (cas === 0 ? old !== undefined : old?.ModifyIndex !== cas) return false;
    return this.set(key, value, flags);
  }

  /** Acquire: throws 'invalid session' for an unknown session; false while held by another or in lock-delay. */
  lock(key: string, value: Buffer | null, flags: number, session: string): boolean {
    if (!this.sessions.has(session)) throw new Error(`invalid session "${session}"`);
    const delayUntil = this.lockDelays.get(key);
    if (delayUntil !== undefined && performance.now() < delayUntil) return false;
    const old = this.kv.get(key);
    if (old?.Session && old.Session !== session) return false;
    const lockIndex = old?.Session === session ? old.LockIndex : (old?.LockIndex ?? 0) + 1;
    this.write(key, value, flags, session, lockIndex);
    return true;
  }

  /** Release: only the holder may; the value is written and the lock cleared. */
  unlock(key: string, value: Buffer | null, flags: number, session: string): boolean {
    if (!this.sessions.has(session)) throw new Error(`invalid session "${session}"`);
    const old = this.kv.get(key);
    if (!old || old.Session !== session) return false;
    this.write(key, value, flags, undefined, old.LockIndex);
    return true;
  }

  private removeKeys(keys: string[]): void {
    if (!keys.length) return;
    const idx = this.commit();
    for (const k of keys) {
      this.kv.delete(k);
      this.tombstones.set(k, idx);
    }
    this.kvIndex = idx;
    this.notify();
  }

  delete(key: string): true {
    // Consul commits (and bumps the index) even when the key is absent.
    if (this.kv.has(key)) this.removeKeys([key]);
    else {
      this.kvIndex = this.commit();
      this.notify();
    }
    return true;
  }

  deleteTree(prefix: string): true {
    const keys = this.list(prefix).map((e) => e.Key);
    if (keys.length) this.removeKeys(keys);
    else {
      this.kvIndex = this.commit();
      this.notify();
    }
    return true;
  }

  /** Delete-CAS: a missing key counts as deleted (true); otherwise ModifyIndex must match. */
  deleteCas(key: string, cas: number): boolean {
    const old = this.kv.get(key);
    if (!old) return true;
    if (old.ModifyIndex !== cas) return false;
    this.removeKeys([key]);
    return true;
  }

  /** /v1/txn (see txn.ts): all ops or none, at one index. */
  txn(ops: TxnOp[]): TxnResult {
    const out = applyTxn(this, ops, this.index + 1);
    if ('errors' in out || !out.writes) return out;
    this.index = out.index;
    this.kv.clear();
    for (const [k, e] of out.work) this.kv.set(k, e);
    for (const k of out.deleted) this.tombstones.set(k, out.index);
    this.kvIndex = out.index;
    this.notify();
    return out;
  }

  // ---- sessions ----

  createSession(req: { name: string; node: string; lockDelayNs: number; behavior: 'release' | 'delete'; ttl: string; ttlMs: number; checks: string[] }): SessionEntry {
    if (req.node !== this.opts.nodeName) throw new Error(`Missing node registration`);
    for (const c of req.checks) {
      const check = this.checks.get(c);
      if (!check) throw new Error(`Missing check '${c}' registration`);
      if (check.Status === 'critical') throw new Error(`Check '${c}' is in critical state`);
    }
    const idx = this.commit();
    const s: SessionEntry = {
      ID: randomUUID(), Name: req.name, Node: req.node, LockDelay: req.lockDelayNs, Behavior: req.behavior,
      TTL: req.ttl, NodeChecks: req.checks, ServiceChecks: null, CreateIndex: idx, ModifyIndex: idx,
    };
    this.sessions.set(s.ID, s);
    this.sessionIndex = idx;
    if (req.ttlMs > 0) this.armTimer(s.ID, req.ttlMs);
    this.notify();
    return s;
  }

  private ttlMs = new Map<string, number>();

  private armTimer(id: string, ttlMs: number): void {
    this.ttlMs.set(id, ttlMs);
    clearTimeout(this.sessionTimers.get(id));
    const t = setTimeout(() => this.invalidate(id), ttlMs * this.opts.ttlMultiplier);
    t.unref();
    this.sessionTimers.set(id, t);
  }

  /** Renew restarts the TTL timer from now (when the request arrives). Null when the session is gone. */
  renewSession(id: string): SessionEntry | null {
    const s = this.sessions.get(id);
    if (!s) return null;
    const ttl = this.ttlMs.get(id);
    if (ttl) this.armTimer(id, ttl);
    return s;
  }

  /**
   * Invalidate a session (expiry, destroy, failed check): its locks are released or its keys deleted
   * per Behavior, and every key it held enters lock-delay.
   */
  invalidate(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    clearTimeout(this.sessionTimers.get(id));
    this.sessionTimers.delete(id);
    this.ttlMs.delete(id);
    const held = [...this.kv.values()].filter((e) => e.Session === id);
    const until = performance.now() + s.LockDelay / 1e6;
    for (const e of held) if (s.LockDelay > 0) this.lockDelays.set(e.Key, until);
    const idx = this.commit();
    for (const e of held) {
      if (s.Behavior === 'delete') {
        this.kv.delete(e.Key);
        this.tombstones.set(e.Key, idx);
      } else {
        this.kv.set(e.Key, { ...e, Session: undefined, ModifyIndex: idx });
      }
    }
    if (held.length) this.kvIndex = idx;
    this.sessions.delete(id);
    this.sessionIndex = idx;
    this.notify();
    return true;
  }

  sessionView(s: SessionEntry): Record<string, unknown> {
    // Consul still reports the deprecated Checks (node checks) next to NodeChecks.
    return { ...s, Checks: s.NodeChecks };
  }

  // ---- agent checks ----

  setCheck(c: CheckEntry): void {
    this.checks.set(c.CheckID, c);
    this.catalogIndex = this.commit();
    if (c.Status === 'critical') this.checkWentCritical(c.CheckID);
    this.notify();
  }

  updateCheck(id: string, status: CheckStatus, output: string): boolean {
    const c = this.checks.get(id);
    if (!c) return false;
    const changed = c.Status !== status || c.Output !== output;
    c.Status = status;
    c.Output = output;
    if (changed) {
      this.catalogIndex = this.commit();
      if (status === 'critical') this.checkWentCritical(id);
      this.notify();
    }
    return true;
  }

  removeCheck(id: string): boolean {
    if (!this.checks.delete(id)) return false;
    // Consul invalidates sessions whose check disappears, as if it had failed.
    this.checkWentCritical(id);
    this.catalogIndex = this.commit();
    this.notify();
    return true;
  }

  private checkWentCritical(id: string): void {
    for (const s of [...this.sessions.values()]) if (s.NodeChecks.includes(id)) this.invalidate(s.ID);
  }

  ttlMinText(): string {
    return formatDuration(this.opts.sessionTtlMinMs);
  }

  close(): void {
    for (const t of this.sessionTimers.values()) clearTimeout(t);
    this.sessionTimers.clear();
  }
}
