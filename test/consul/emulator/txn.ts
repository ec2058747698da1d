/**
 * /v1/txn for KV operations: applied in order to a working copy, like Consul's state store inside
 * one Raft entry; the first failing op aborts everything (409 with its index), else every write
 * commits at one index. Verbs: set, cas, lock, unlock, get, check-index, check-session,
 * check-not-exists, delete, delete-cas, delete-tree.
 */
import type { ConsulState, KvEntry } from './state.js';

export interface TxnOp {
  Verb: string;
  Key: string;
  Value: Buffer | null;
  Flags: number;
  Index: number;
  Session: string;
}

export type TxnResult =
  | { results: KvEntry[]; writes: boolean; work: Map<string, KvEntry>; deleted: Set<string>; index: number }
  | { errors: Array<{ OpIndex: number; What: string }> };

export function applyTxn(state: ConsulState, ops: TxnOp[], idx: number): TxnResult {
  const work = new Map(state.kv);
  const results: KvEntry[] = [];
  const deleted = new Set<string>();
  let writes = false;
  const put = (op: TxnOp, cur: KvEntry | undefined, session: string | undefined, lockIndex: number) => {
    const e: KvEntry = { Key: op.Key, Flags: op.Flags, Value: op.Value, Session: session, LockIndex: lockIndex, CreateIndex: cur?.CreateIndex ?? idx, ModifyIndex: idx };
    work.set(op.Key, e);
    deleted.delete(op.Key);
    results.push({ ...e, Value: null });
    writes = true;
  };
  const remove = (k: string) => {
    if (work.delete(k)) deleted.add(k);
    writes = true;
  };
  for (const [i, op] of ops.entries()) {
    const cur = work.get(op.Key);
    const fail = (what: string) => ({ errors: [{ OpIndex: i, What: what }] });
    switch (op.Verb) {
      case 'set': put(op, cur, cur?.Session, cur?.LockIndex ?? 0); break;
      case 'cas':
        if (op.Index === 0 ? cur !== undefined : cur?.ModifyIndex !== op.Index) return fail(`failed to set key "${op.Key}", index is stale`);
        put(op, cur, cur?.Session, cur?.LockIndex ?? 0);
        break;
      case 'lock': {
        if (!state.sessions.has(op.Session)) return fail(`failed to lock key "${op.Key}": invalid session "${op.Session}"`);
        const delayUntil = state.lockDelays.get(op.Key);
        if (delayUntil !== undefined && performance.now() < delayUntil) return fail(`failed to lock key "${op.Key}", lock delay is in effect`);
        if (cur?.Session && cur.Session !== op.Session) return fail(`failed to lock key "${op.Key}", lock is already held`);
        put(op, cur, op.Session, cur?.Session === op.Session ? cur.LockIndex : (cur?.LockIndex ?? 0) + 1);
        break;
      }
      case 'unlock':
        if (!cur || cur.Session !== op.Session) return fail(`failed to unlock key "${op.Key}", lock isn't held, or is held by another session`);
        put(op, cur, undefined, cur.LockIndex);
        break;
      case 'get':
        if (!cur) return fail(`key "${op.Key}" doesn't exist`);
        results.push(cur);
        break;
      case 'check-index':
        if (cur?.ModifyIndex !== op.Index) return fail(`current modify index ${cur?.ModifyIndex ?? 0} != ${op.Index}`);
        break;
      case 'check-session':
        if (cur?.Session !== op.Session) return fail(`current session ${cur?.Session ?? '""'} != ${op.Session}`);
        break;
      case 'check-not-exists':
        if (cur) return fail(`key "${op.Key}" exists`);
        break;
      case 'delete': remove(op.Key); break;
      case 'delete-cas':
        if (cur && cur.ModifyIndex !== op.Index) return fail(`failed to delete key "${op.Key}", index is stale`);
        remove(op.Key);
        break;
      case 'delete-tree':
        for (const k of [...work.keys()]) if (k.startsWith(op.Key)) remove(k);
        break;
      default:
        return fail(`unknown KV verb "${op.Verb}"`);
    }
  }
  return { results, writes, work, deleted, index: idx };
}
