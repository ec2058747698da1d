/**
 * What the DCS driver needs from the replicated store, whether the Raft member runs in this process
 * (KvMember) or the driver talks to one over TCP (RemoteKv, for ctl mode and separate processes).
 */
import type { KvCommand, KvEntry, KvResult } from './commands.js';

export interface KvApi {
  /** Linearizable read of every key starting with `prefix`, sorted by key. */
  list(prefix: string, timeoutMs: number): Promise<KvEntry[]>;
  /**
   * Replicate one command. `rid` (unique per logical request) makes retries through other members
   * safe: the store applies a request id at most once. Throws KvUnavailableError when no quorum
   * answered in time: the command may or may not have been applied.
   */
  submit(cmd: KvCommand, timeoutMs: number, rid?: string): Promise<KvResult>;
  /**
   * Resolve true when `key`'s version differs from `version` (immediately if it already does and
   * version is not null), false on timeout or abort.
   */
  waitChange(key: string, version: number | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

/** No quorum, no connection, or no answer in time (transient). */
export class KvUnavailableError extends Error {
  override readonly name = 'KvUnavailableError';
}
