/**
 * Commands of the replicated key-value store, as they travel through the Raft log (JSON).
 * Every key carries the Raft index of its last modification: that is its version for CAS.
 */
export type KvCommand =
  /** Write `value`. Conditions: ifAbsent (create only), prevValue / prevIndex (compare-and-swap). */
  | { readonly op: 'set'; readonly key: string; readonly value: string; readonly ttlMs: number | null; readonly prevValue?: string; readonly prevIndex?: number; readonly ifAbsent?: boolean }
  | { readonly op: 'del'; readonly key: string; readonly prevValue?: string; readonly prevIndex?: number }
  | { readonly op: 'delPrefix'; readonly prefix: string }
  /** Proposed by the leader when a key's TTL ran out on its clock; only deletes that exact version. */
  | { readonly op: 'expire'; readonly key: string; readonly index: number };

/** `rid` identifies a client request so that retries after a leader change apply at most once. */
export interface KvEnvelope {
  readonly rid: string;
  readonly cmd: KvCommand;
}

export interface KvResult {
  /** False when a condition failed (lost CAS, key exists, key missing). */
  readonly ok: boolean;
  /** The log index this command applied at (the key's new version on a successful set). */
  readonly index: number;
}

export interface KvEntry {
  readonly key: string;
  readonly value: string;
  /** Raft index of the last modification: the version for compare-and-swap. */
  readonly index: number;
  readonly ttlMs: number | null;
}

export type ChangeCause = 'set' | 'delete' | 'expire' | 'snapshot';

export interface KvChange {
  readonly key: string;
  /** The new entry, or null when the key is gone. */
  readonly entry: KvEntry | null;
  readonly cause: ChangeCause;
}
