/**
 * The key-value state machine replicated by Raft. Deterministic: the same commands in the same
 * order give the same state on every node (expiry is a command too). Emits a 'change' event for
 * each key a command changed, so local watchers wake up.
 */
import { EventEmitter } from 'node:events';
import type { StateMachine } from '../raft/node.js';
import type { ChangeCause, KvChange, KvCommand, KvEntry, KvEnvelope, KvResult } from './commands.js';

/** How many request ids to remember for de-duplication of retried proposals. */
const DEDUP_WINDOW = 4096;

interface Image { entries: KvEntry[]; recent: [string, KvResult][] }

export class KvState implements StateMachine {
  readonly events = new EventEmitter();
  private data = new Map<string, KvEntry>();
  private recent = new Map<string, KvResult>();

  constructor() {
    this.events.setMaxListeners(0);
  }

  get(key: string): KvEntry | undefined { return this.data.get(key); }

  list(prefix: string): KvEntry[] {
    return [...this.data.values()].filter((e) => e.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Keys with a TTL, for the leader's expiry sweep. */
  expiring(): KvEntry[] {
    return [...this.data.values()].filter((e) => e.ttlMs !== null);
  }

  apply(data: string, index: number): KvResult {
    const { rid, cmd } = JSON.parse(data) as KvEnvelope;
    const seen = this.recent.get(rid);
    if (seen) return seen;
    const result = this.execute(cmd, index);
    this.recent.set(rid, result);
    if (this.recent.size > DEDUP_WINDOW) this.recent.delete(this.recent.keys().next().value!);
    return result;
  }

  private execute(cmd: KvCommand, index: number): KvResult {
    const fail = { ok: false, index };
    switch (cmd.op) {
      case 'set': {
        const cur = this.data.get(cmd.key);
        if (cmd.ifAbsent && cur) return fail;
        if (!matches(cur, cmd.prevValue, cmd.prevIndex)) return fail;
        this.put({ key: cmd.key, value: cmd.value, index, ttlMs: cmd.ttlMs }, 'set');
        return { ok: true, index };
      }
      case 'del': {
        const cur = this.data.get(cmd.key);
        if (!cur || !matches(cur, cmd.prevValue, cmd.prevIndex)) return fail;
        this.remove(cmd.key, 'delete');
        return { ok: true, index };
      }
      case 'delPrefix':
        for (const key of [...this.data.keys()]) if (key.startsWith(cmd.prefix)) this.remove(key, 'delete');
        return { ok: true, index };
      case 'expire': {
        const cur = this.data.get(cmd.key);
        if (!cur || cur.index !== cmd.index) return fail;
        this.remove(cmd.key, 'expire');
        return { ok: true, index };
      }
    }
  }

  snapshot(): string {
    const image: Image = { entries: [...this.data.values()], recent: [...this.recent.entries()] };
    return JSON.stringify(image);
  }

  restore(data: string): void {
    const image = JSON.parse(data) as Image;
    const before = this.data;
    this.data = new Map(image.entries.map((e) => [e.key, e]));
    this.recent = new Map(image.recent);
    for (const key of new Set([...before.keys(), ...this.data.keys()])) {
      const entry = this.data.get(key) ?? null;
      if (before.get(key)?.index !== entry?.index) this.emit({ key, entry, cause: 'snapshot' });
    }
  }

  private put(entry: KvEntry, cause: ChangeCause): void {
    this.data.set(entry.key, entry);
    this.emit({ key: entry.key, entry, cause });
  }

  private remove(key: string, cause: ChangeCause): void {
    this.data.delete(key);
    this.emit({ key, entry: null, cause });
  }

  private emit(change: KvChange): void {
    this.events.emit('change', change);
  }
}

function matches(cur: KvEntry | undefined, prevValue: string | undefined, prevIndex: number | undefined): boolean {
  if (prevValue !== undefined && cur?.value !== prevValue) return false;
  if (prevIndex !== undefined && cur?.index !== prevIndex) return false;
  return true;
}
