/**
 * Raft state in a directory, every write fsynced before save() returns:
 *   state.json     term and vote (replaced atomically: write temp, fsync, rename, fsync dir)
 *   snapshot.json  the latest snapshot (replaced atomically)
 *   log.jsonl      append-only records: {"e":entry} or {"from":n} (truncate from n); a torn last
 *                  line (crash mid-write) is ignored. Rewritten without the compacted prefix after
 *                  a snapshot.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry, PersistedState, Snapshot, StorageOp } from './messages.js';
import { applyOps, type RaftStorage } from './storage.js';

type LogRecord = { e: Entry } | { from: number };

export class FileStorage implements RaftStorage {
  private logFd: number | null = null;
  private image = { term: 0, votedFor: null as string | null, snapshot: null as Snapshot | null, entries: [] as Entry[] };

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(name: string): string { return join(this.dir, name); }

  load(): PersistedState {
    const hard = readJson<{ term: number; votedFor: string | null }>(this.path('state.json')) ?? { term: 0, votedFor: null };
    const snapshot = readJson<Snapshot>(this.path('snapshot.json'));
    const entries: Entry[] = [];
    if (existsSync(this.path('log.jsonl'))) {
      const lines = readFileSync(this.path('log.jsonl'), 'utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i]) continue;
        let rec: LogRecord;
        try {
          rec = JSON.parse(lines[i]!) as LogRecord;
        } catch (e) {
          if (i >= lines.length - 2) break; // torn final write
          throw new Error(`corrupt raft log ${this.path('log.jsonl')} line ${i + 1}`, { cause: e });
        }
        if ('from' in rec) {
          const keep = entries.findIndex((x) => x.index >= rec.from);
          if (keep >= 0) entries.length = keep;
        } else {
          const keep = entries.findIndex((x) => x.index >= rec.e.index);
          if (keep >= 0) entries.length = keep;
          entries.push(rec.e);
        }
      }
    }
    const after = entries.filter((e) => e.index > (snapshot?.index ?? 0));
    this.image = { term: hard.term, votedFor: hard.votedFor, snapshot, entries: after };
    // Start from a clean file: drops torn tails and truncate records.
    this.rewriteLog();
    return { hard: { term: hard.term, votedFor: hard.votedFor }, snapshot, entries: [...after] };
  }

  save(ops: readonly StorageOp[]): void {
    if (ops.length === 0) return;
    let hardChanged = false;
    let snapshotChanged = false;
    const records: LogRecord[] = [];
    for (const op of ops) {
      if (op.kind === 'hard') hardChanged = true;
      else if (op.kind === 'snapshot') snapshotChanged = true;
      else {
        records.push({ from: op.from });
        for (const e of op.entries) records.push({ e });
      }
    }
    applyOps(this.image, ops);
    // Term first: a log entry must never be durable with a higher term than the node's own.
    if (hardChanged) atomicWrite(this.dir, 'state.json', JSON.stringify({ term: this.image.term, votedFor: this.image.votedFor }));
    if (snapshotChanged) {
      atomicWrite(this.dir, 'snapshot.json', JSON.stringify(this.image.snapshot));
      this.rewriteLog();
    } else if (records.length) {
      writeSync(this.fd(), records.map((r) => JSON.stringify(r) + '\n').join(''));
      fsyncSync(this.fd());
    }
  }

  private fd(): number {
    this.logFd ??= openSync(this.path('log.jsonl'), 'a', 0o600);
    return this.logFd;
  }

  private rewriteLog(): void {
    if (this.logFd !== null) closeSync(this.logFd);
    this.logFd = null;
    atomicWrite(this.dir, 'log.jsonl', this.image.entries.map((e) => JSON.stringify({ e }) + '\n').join(''));
  }

  close(): void {
    if (this.logFd !== null) closeSync(this.logFd);
    this.logFd = null;
  }
}

function readJson<T>(file: string): T | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
}

function atomicWrite(dir: string, name: string, data: string): void {
  const tmp = join(dir, `${name}.tmp`);
  writeFileSync(tmp, data, { mode: 0o600 });
  const fd = openSync(tmp, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, join(dir, name));
  const dfd = openSync(dir, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}
