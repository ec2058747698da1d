/**
 * The PostgreSQL side of slot maintenance: short-lived connections to the local server in the
 * slot's database (logical slots are created and advanced from inside their database), a
 * connection to the leader to read its slots' state files, and writing those files into the
 * stopped replica's pg_replslot (what Patroni's copy_logical_slots does: PostgreSQL 15 cannot create
 * a logical slot during recovery, but loads one found in pg_replslot at start).
 */
import { chownSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from '../postgres/pg-driver.js';
import type { RunAs } from '../postgres/exec.js';
import type { AuthSettings } from '../postgres/settings.js';
import type { ConnectionParams } from '../postgres/monitor.js';
import { sourceConnKwargs } from '../postgres/recovery.js';
import type { ReplicaSource } from '../replica/contract.js';

export interface SlotsIO {
  /** Run `sql` on the local server in `database` (default: the connection's own). */
  query<R extends Record<string, unknown>>(sql: string, values?: unknown[], database?: string): Promise<R[]>;
  /** Run `sql` on another member (the leader) as the rewind user (falls back to the superuser). */
  queryMember<R extends Record<string, unknown>>(member: ReplicaSource, sql: string, values?: unknown[]): Promise<R[]>;
  /** Install slot state files into PGDATA/pg_replslot (PostgreSQL must be stopped). */
  writeSlotFiles(files: ReadonlyArray<{ name: string; state: Buffer }>): void;
}

export interface SlotsIOOptions {
  readonly local: () => ConnectionParams;
  /** The agent's own connection to the local server: used for queries in its default database. */
  readonly localQuery?: <R extends Record<string, unknown>>(sql: string, values?: unknown[]) => Promise<R[]>;
  readonly rewind: () => AuthSettings;
  readonly dataDir: string;
  readonly runAs: RunAs | null;
}

/**
 * A stuck statement must not hold slot maintenance forever (the keeper runs one advance at a time):
 * bounded generously, because advancing a logical slot over a large backlog decodes all of it.
 */
const STATEMENT_TIMEOUT_MS = 300_000;

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionTimeoutMillis: 5000, statement_timeout: STATEMENT_TIMEOUT_MS, query_timeout: STATEMENT_TIMEOUT_MS + 10_000, application_name: 'pgha', ...config });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function createSlotsIO(o: SlotsIOOptions): SlotsIO {
  const own = (path: string) => { if (o.runAs) chownSync(path, o.runAs.uid, o.runAs.gid); };
  const fsyncDir = (path: string) => {
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  };
  return {
    query(sql, values, database) {
      if (database === undefined && o.localQuery) return o.localQuery(sql, values);
      const p = o.local();
      return withClient({ host: p.host, port: p.port, user: p.user, password: p.password ?? undefined, database: database ?? p.database },
        async (c) => (await c.query(sql, values as unknown[])).rows);
    },
    queryMember(member, sql, values) {
      const kw = sourceConnKwargs(member, o.rewind(), true);
      return withClient({
        host: String(kw.host), port: Number(kw.port ?? 5432), user: String(kw.user ?? ''),
        password: kw.password === undefined ? undefined : String(kw.password), database: 'postgres',
        ...(kw.sslmode === 'require' || kw.sslmode === 'verify-ca' || kw.sslmode === 'verify-full' ? { ssl: { rejectUnauthorized: kw.sslmode !== 'require' } } : {}),
      }, async (c) => (await c.query(sql, values as unknown[])).rows);
    },
    writeSlotFiles(files) {
      const root = join(o.dataDir, 'pg_replslot');
      for (const f of files) {
        const dir = join(root, f.name);
        const tmp = `${dir}.tmp`;
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { mode: 0o700 });
        own(tmp);
        const file = join(tmp, 'state');
        const fd = openSync(file, 'w', 0o600);
        try {
          writeSync(fd, f.state);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        own(file);
        fsyncDir(tmp);
        if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
        renameSync(tmp, dir);
        fsyncDir(dir);
      }
      fsyncDir(root);
    },
  };
}
