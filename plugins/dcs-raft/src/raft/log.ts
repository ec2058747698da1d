/**
 * The in-memory Raft log: a snapshot boundary (index, term) followed by contiguous entries.
 * Index 0 / term 0 is the empty log's sentinel.
 */
import type { Entry, Snapshot } from './messages.js';

export class RaftLog {
  private entries: Entry[] = [];
  private snapIndex = 0;
  private snapTerm = 0;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[]) {
    if (snapshot) {
      this.snapIndex = snapshot.index;
      this.snapTerm = snapshot.term;
    }
    for (const e of entries) if (e.index > this.snapIndex) this.entries.push(e);
    this.entries.forEach((e, i) => {
      if (e.index !== this.snapIndex + 1 + i) throw new Error(`log is not contiguous at ${e.index}`);
    });
  }

  get firstIndex(): number { return this.snapIndex + 1; }
  get snapshotIndex(): number { return this.snapIndex; }
  get snapshotTerm(): number { return this.snapTerm; }
  get lastIndex(): number { return this.snapIndex + this.entries.length; }
  get lastTerm(): number { return this.term(this.lastIndex)!; }

  /** Term of the entry at `index`; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    return this.entry(index)?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapIndex) return undefined;
    return this.entries[index - this.snapIndex - 1];
  }

  /** Entries [from, to] inclusive, at most `max`. */
  slice(from: number, to: number, max = Infinity): Entry[] {
    const lo = Math.max(from, this.firstIndex) - this.snapIndex - 1;
    const hi = Math.min(to, this.lastIndex) - this.snapIndex;
    return this.entries.slice(lo, Math.min(hi, lo + max));
  }

  /** Append after truncating everything from `entries[0].index`. */
  replaceFrom(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const from = entries[0]!.index;
    if (from <= this.snapIndex || from > this.lastIndex + 1) throw new Error(`cannot append at ${from}`);
    this.entries.length = from - this.snapIndex - 1;
    this.entries.push(...entries);
  }

  /** Forget entries up to `index` (now covered by a snapshot). */
  compact(index: number, term: number): void {
    if (index <= this.snapIndex) return;
    this.entries = index >= this.lastIndex ? [] : this.entries.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = term;
  }

  /** Drop the whole log and restart it after a snapshot the leader sent. */
  reset(index: number, term: number): void {
    this.entries = [];
    this.snapIndex = index;
    this.snapTerm = term;
  }
}
