/**
 * A watch-fed copy of the cluster prefix (Patroni's etcd3 KVCache): one range read, then a watch
 * from the next revision keeps `key -> value, mod_revision, lease` current. It is "fresh" only
 * while the watch stream is connected and the last resync succeeded. Any disconnect, watch error
 * or compaction makes it stale; a reconnect resyncs with one range read, with backoff, never
 * spinning. Events at or below the revision already applied are ignored, so a snapshot and the
 * watch can overlap safely.
 */
import { EventEmitter } from 'node:events';
import type { DcsNode } from '@pgha/core';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { DeadlineCaller } from './client.js';
import { prefixRange } from './keys.js';

export interface CachedKey {
  readonly value: string;
  readonly modRevision: number;
  /** Lease id, '0' when none. */
  readonly lease: string;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 3000;

export class PrefixCache {
  private entries = new Map<string, CachedKey>();
  private listed: DcsNode[] | null = null;
  private revision = 0;
  private watcher: Watcher | null = null;
  private connected = false;
  private synced = false;
  private closed = false;
  private syncing = false;
  private syncAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = MIN_BACKOFF_MS;
  private readonly changes = new EventEmitter();

  constructor(private readonly client: Etcd3, private readonly caller: DeadlineCaller, private readonly prefix: string) {
    this.changes.setMaxListeners(0);
  }

  start(): void {
    this.scheduleSync(0);
  }

  /** True while the watch is connected and the copy was resynced since the last disconnect. */
  get fresh(): boolean {
    return !this.closed && this.connected && this.synced;
  }

  /** The newest revision applied to the copy. */
  get at(): number {
    return this.revision;
  }

  get(key: string): CachedKey | undefined {
    return this.entries.get(key);
  }

  /** The copy as DCS nodes: the same array until the copy changes, so the core can reuse what it built from it. */
  nodes(): DcsNode[] {
    this.listed ??= [...this.entries].map(([key, e]) => ({ key, value: e.value, version: e.modRevision, session: e.lease === '0' ? null : e.lease }));
    return this.listed;
  }

  /** Listen for changed keys (relative to the prefix); returns the unsubscribe function. */
  onChange(listener: (key: string) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  /** Replace the copy with a consistent read at `revision`, unless the copy is already newer. */
  applySnapshot(kvs: readonly IKeyValue[], revision: number): boolean {
    if (revision < this.revision) return false;
    const next = new Map<string, CachedKey>();
    for (const kv of kvs) next.set(this.relative(kv.key), toCached(kv));
    const old = this.entries;
    this.entries = next;
    this.listed = null;
    this.revision = revision;
    for (const [k, e] of next) if (old.get(k)?.modRevision !== e.modRevision) this.changes.emit('change', k);
    for (const k of old.keys()) if (!next.has(k)) this.changes.emit('change', k);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.changes.removeAllListeners();
    await this.dropWatcher();
  }

  private relative(key: Buffer): string {
    return key.toString().slice(this.prefix.length);
  }

  private applyEvent(type: 'put' | 'delete', kv: IKeyValue): void {
    const rev = Number(kv.mod_revision);
    // Several keys change at one revision (a transaction; a lease expiry deleting every key on it):
    // only older events are skipped. Replaying one at the snapshot's own revision is harmless.
    if (rev < this.revision) return;
    this.revision = rev;
    const key = this.relative(kv.key);
    if (type === 'put') this.entries.set(key, toCached(kv));
    else this.entries.delete(key);
    this.listed = null;
    this.changes.emit('change', key);
  }

  private scheduleSync(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.sync();
    }, delayMs);
  }

  /** One range read, then (re)attach the watch from the following revision. */
  private async sync(): Promise<void> {
    if (this.closed) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    this.synced = false;
    try {
      const { key, range_end } = prefixRange(this.prefix);
      let applied = false;
      // A watch event can overtake the read's answer; read again rather than roll the copy back.
      for (let i = 0; i < 3 && !applied; i++) {
        const res = await this.caller.run('cache sync', (o) => this.client.kv.range({ key, range_end }, o));
        applied = this.applySnapshot(res.kvs, Number(res.header.revision));
      }
      if (!applied) throw new Error('cache snapshot kept falling behind the watch');
      if (!this.watcher) this.attachWatcher(this.revision + 1);
      this.synced = true;
      this.backoffMs = MIN_BACKOFF_MS;
    } catch {
      if (this.closed) return;
      // The watch may be fine and the read unlucky, or both gone: start over from a new watch.
      await this.dropWatcher();
      this.scheduleSync(this.backoffMs);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    } finally {
      this.syncing = false;
      if (this.syncAgain) {
        this.syncAgain = false;
        this.scheduleSync(0);
      }
    }
  }

  private attachWatcher(startRevision: number): void {
    const w = this.client.watch().prefix(this.prefix).startRevision(String(startRevision)).watcher();
    let everConnected = false;
    w.on('put', (kv) => this.applyEvent('put', kv));
    w.on('delete', (kv) => this.applyEvent('delete', kv));
    w.on('connected', () => {
      this.connected = true;
      // The library resumed the watch itself; we cannot tell what it skipped, so read once.
      if (everConnected) this.scheduleSync(0);
      everConnected = true;
    });
    w.on('disconnected', () => {
      this.connected = false;
      this.synced = false;
    });
    w.on('error', () => {
      // Cancelled by etcd (e.g. compaction): this watcher is dead; resync with a new one.
      if (this.watcher !== w) return;
      this.connected = false;
      this.synced = false;
      this.watcher = null;
      w.removeAllListeners();
      this.scheduleSync(this.backoffMs);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    });
    this.watcher = w;
  }

  private async dropWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    this.connected = false;
    if (!w) return;
    w.removeAllListeners();
    w.on('error', () => undefined);
    // Cancelling waits for etcd's answer; do not let a dead endpoint hold us up.
    await Promise.race([w.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
  }
}

function toCached(kv: IKeyValue): CachedKey {
  return { value: kv.value.toString(), modRevision: Number(kv.mod_revision), lease: String(kv.lease ?? '0') };
}
