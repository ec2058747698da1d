/**
 * Durable Raft state. `save` must not return before the operations are on stable storage: the
 * node sends the messages of a step (votes, acknowledgements) only after it returns.
 */
import type { Entry, PersistedState, Snapshot, StorageOp } from './messages.js';

export interface RaftStorage {
  load(): PersistedState;
  save(ops: readonly StorageOp[]): void;
  close(): void;
}

/** Apply storage operations to a plain image of the persisted state (shared by both storages). */
export function applyOps(state: { term: number; votedFor: string | null; snapshot: Snapshot | null; entries: Entry[] }, ops: readonly StorageOp[]): void {
  for (const op of ops) {
    if (op.kind === 'hard') {
      state.term = op.hard.term;
      state.votedFor = op.hard.votedFor;
    } else if (op.kind === 'append') {
      const keep = state.entries.findIndex((e) => e.index >= op.from);
      if (keep >= 0) state.entries.length = keep;
      state.entries.push(...op.entries);
    } else {
      state.snapshot = op.snapshot;
      state.entries = state.entries.filter((e) => e.index > op.snapshot.index);
    }
  }
}

/** Storage that survives a simulated crash: the test keeps the object, the node is rebuilt. */
export class MemoryStorage implements RaftStorage {
  private state = { term: 0, votedFor: null as string | null, snapshot: null as Snapshot | null, entries: [] as Entry[] };

  load(): PersistedState {
    const s = structuredClone(this.state);
    return { hard: { term: s.term, votedFor: s.votedFor }, snapshot: s.snapshot, entries: s.entries };
  }

  save(ops: readonly StorageOp[]): void {
    applyOps(this.state, structuredClone(ops));
  }

  close(): void {}
}
