/**
 * The client protocol a member serves on its Raft port (after a 'client' handshake): requests
 * {id, op: 'list' | 'submit' | 'wait', ...} answered with {id, ok, result} or {id, ok: false,
 * error, unavailable}. Used by ctl-mode drivers and by drivers of members in other processes.
 */
import type { KvApi } from '../kv/api.js';
import { KvUnavailableError } from '../kv/api.js';
import type { KvCommand } from '../kv/commands.js';
import type { Connection } from './connection.js';

export type KvRequest =
  | { id: number; op: 'list'; prefix: string; timeoutMs: number }
  | { id: number; op: 'submit'; cmd: KvCommand; rid?: string; timeoutMs: number }
  | { id: number; op: 'wait'; key: string; version: number | null; timeoutMs: number };

export type KvResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; unavailable: boolean };

const MAX_TIMEOUT_MS = 120_000;

export function serveKvClient(c: Connection, api: KvApi): void {
  const aborts = new Set<AbortController>();
  c.onClose(() => { for (const a of aborts) a.abort(); });
  c.onMessage((raw) => {
    const req = raw as KvRequest;
    const timeoutMs = Math.min(Math.max(0, Number(req.timeoutMs) || 0), MAX_TIMEOUT_MS);
    let work: Promise<unknown>;
    switch (req.op) {
      case 'list': work = api.list(String(req.prefix), timeoutMs); break;
      case 'submit': work = api.submit(req.cmd, timeoutMs, req.rid); break;
      case 'wait': {
        const ac = new AbortController();
        aborts.add(ac);
        work = api.waitChange(String(req.key), req.version, timeoutMs, ac.signal).finally(() => aborts.delete(ac));
        break;
      }
      default: work = Promise.reject(new Error('unknown request'));
    }
    work.then(
      (result) => c.send({ id: req.id, ok: true, result } satisfies KvResponse),
      (e: unknown) => c.send({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e), unavailable: e instanceof KvUnavailableError } satisfies KvResponse),
    );
  });
}
