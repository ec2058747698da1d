/**
 * `patroni.dynamic.json` in the data directory: the dynamic configuration in effect, written as
 * Patroni writes it (Python's `json.dump`: `{"ttl": 30, "loop_wait": 10}`, ASCII-escaped), through
 * a temporary file renamed into place, with the data directory's file mode. Tools and Patroni itself
 * read it; pgha also reads it at startup when the DCS cannot be read yet.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { chownTo, type RunAs } from '../postgres/exec.js';
import { isPlainObject } from '../util/json.js';

export const DYNAMIC_CACHE_FILE = 'patroni.dynamic.json';

const escapeAscii = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Python's `json.dumps(v)` with default separators (`, ` and `: `) and ensure_ascii. */
export function pythonJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  if (typeof v === 'string') return escapeAscii(v);
  if (Array.isArray(v)) return `[${v.map(pythonJsonDumps).join(', ')}]`;
  if (isPlainObject(v)) return `{${Object.entries(v).map(([k, x]) => `${escapeAscii(k)}: ${pythonJsonDumps(x)}`).join(', ')}}`;
  return escapeAscii(String(v));
}

/**
 * What Patroni caches: the `/config` value itself, after its own timing adjustments (ttl >= 20,
 * loop_wait >= 1, retry_timeout >= 3, loop_wait + 2 * retry_timeout <= ttl), which it writes into
 * the value. Nothing else is normalized.
 */
export function patroniCachedDynamic(raw: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const int = (k: string, dflt: number, min: number): number => {
    const v = Math.trunc(Number(raw[k] ?? dflt));
    if (!Number.isFinite(v)) return dflt;
    if (v < min) out[k] = min;
    return Math.max(v, min);
  };
  const loopWait = int('loop_wait', 10, 1);
  const retry = int('retry_timeout', 10, 3);
  const ttl = int('ttl', 30, 20);
  if (1 + 2 * retry > ttl) {
    out.loop_wait = 1;
    out.retry_timeout = Math.floor((ttl - 1) / 2);
  } else if (loopWait + 2 * retry > ttl) {
    out.loop_wait = ttl - 2 * retry;
  }
  return out;
}

export class DynamicConfigCache {
  private saved: string | null = null;

  constructor(private readonly dataDir: string, private readonly runAs: RunAs | null, private readonly logger: Logger) {}

  get path(): string { return join(this.dataDir, DYNAMIC_CACHE_FILE); }

  /** The cached configuration, or null when absent or unreadable (logged, never fatal). */
  load(): Record<string, unknown> | null {
    if (!existsSync(this.path)) return null;
    try {
      const v: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      return isPlainObject(v) ? v : null;
    } catch (e) {
      this.logger.error(`Exception when loading file: ${this.path}: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }

  /**
   * Write `config` when it differs from what was last written. Only into an initialized data
   * directory (PG_VERSION present): an empty one is about to receive initdb or a base backup, which
   * need it empty. True when the file holds it.
   */
  save(config: Readonly<Record<string, unknown>>): boolean {
    const text = pythonJsonDumps(config);
    if (text === this.saved) return true;
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) return false;
    const tmp = join(this.dataDir, `${DYNAMIC_CACHE_FILE}${randomBytes(4).toString('hex')}`);
    try {
      // 0600, or 0640 when the data directory allows group access (as pg_perm does).
      const mode = (statSync(this.dataDir).mode & 0o050) === 0o050 ? 0o640 : 0o600;
      const fd = openSync(tmp, 'wx', mode);
      try { writeSync(fd, text); } finally { closeSync(fd); }
      chownTo(tmp, this.runAs);
      chmodSync(tmp, mode);
      renameSync(tmp, this.path);
      this.saved = text;
      return true;
    } catch (e) {
      this.logger.error(`Exception when saving file: ${this.path}: ${e instanceof Error ? e.message : String(e)}`);
      rmSync(tmp, { force: true });
      return false;
    }
  }
}
