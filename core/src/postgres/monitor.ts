/**
 * SQL access to the local server with the `pg` package, and the one monitoring query the HA loop
 * runs every cycle (role, timeline, LSNs, replication state, pg_stat_replication, slots, when the
 * configuration was loaded): one round trip, as Patroni's cluster_info_query.
 */
import pg from './pg-driver.js';
import { SLOT_ROWS_SQL, slotRow } from '../slots/rows.js';
import type { SlotRow } from '../slots/plan.js';
import { isPlainObject } from '../util/json.js';

export interface ConnectionParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | null;
  readonly database: string;
  readonly extra?: Readonly<Record<string, string>>;
}

export interface ReplicationRow {
  readonly pid: number;
  readonly usename: string | null;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string | null;
  readonly syncState: string | null;
  readonly syncPriority: number | null;
  readonly writeLsn: bigint | null;
  readonly flushLsn: bigint | null;
  readonly replayLsn: bigint | null;
}

export interface ServerStatus {
  readonly inRecovery: boolean;
  readonly role: 'primary' | 'replica';
  readonly timeline: number | null;
  readonly postmasterStartTime: number;
  /** Primary: flush position of the current WAL. Null on replicas. */
  readonly writeLsn: bigint | null;
  readonly receiveLsn: bigint | null;
  readonly replayLsn: bigint | null;
  readonly replayPaused: boolean;
  /** Replicas: `streaming` when the WAL receiver streams, else `in archive recovery`. Null on primaries. */
  readonly replicationState: 'streaming' | 'in archive recovery' | null;
  readonly replication: readonly ReplicationRow[];
  readonly serverVersion: number;
  /** Some setting in pg_settings waits for a restart (PendingSettings, keyed by the row's conf_load_time). */
  readonly pendingRestart: boolean;
  /** The non-temporary replication slots (slots/rows.ts). */
  readonly slots: readonly SlotRow[];
}

const lsnOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(String(v)));

/**
 * The row comes back as one json value (`row_to_json`), not thirteen columns: the driver then
 * parses one field with JSON.parse instead of describing and converting each column every cycle.
 * The keys and JSON types are those of the columns (text stays a string, json nests).
 * It runs as a named (prepared) statement: parsing and planning this text cost the server more than
 * running it (PostgreSQL 15, backend CPU per execution: 3.7 ms as a simple query, 0.8 ms prepared).
 * pg_stat_replication's rows are built from the WAL senders and the activity of each (as Patroni
 * does): the view reads the activity of every backend, a replica's included, where it has none.
 */
export const MONITOR_SQL = `
SELECT pg_catalog.row_to_json(m) AS status FROM (
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
  EXTRACT(EPOCH FROM pg_catalog.pg_postmaster_start_time())::float8 AS start_time,
  CASE WHEN pg_catalog.pg_is_in_recovery()
    THEN COALESCE((SELECT received_tli FROM pg_catalog.pg_stat_get_wal_receiver() WHERE received_tli > 0),
                  (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))
    ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
    ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_flush_lsn(), '0/0')::bigint::text END AS write_lsn,
  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), '0/0')::bigint::text AS receive_lsn,
  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_replay_lsn(), '0/0')::bigint::text AS replay_lsn,
  pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_is_wal_replay_paused() AS replay_paused,
  (SELECT status FROM pg_catalog.pg_stat_get_wal_receiver()) AS receiver_status,
  pg_catalog.current_setting('server_version_num')::int AS server_version,
  (SELECT pg_catalog.json_agg(r) FROM (
     SELECT w.pid, (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = a.usesysid) AS usename, a.application_name,
       a.client_addr::text AS client_addr, w.state, w.sync_state, w.sync_priority,
       pg_catalog.pg_wal_lsn_diff(w.write_lsn, '0/0')::bigint::text AS write_lsn,
       pg_catalog.pg_wal_lsn_diff(w.flush_lsn, '0/0')::bigint::text AS flush_lsn,
       pg_catalog.pg_wal_lsn_diff(w.replay_lsn, '0/0')::bigint::text AS replay_lsn
     FROM pg_catalog.pg_stat_get_wal_senders() w, LATERAL pg_catalog.pg_stat_get_activity(w.pid) a) r) AS replication,
  pg_catalog.pg_conf_load_time()::text AS conf_load_time,
  (SELECT pg_catalog.json_agg(s) FROM (${SLOT_ROWS_SQL}) s) AS slots) m`;

export const MONITOR_QUERY: NamedQuery = { name: 'pgha_monitor', text: MONITOR_SQL };

/** A statement the connection prepares once and then only binds and executes. */
export interface NamedQuery { readonly name: string; readonly text: string }

/** `pendingRestart`: from PendingSettings, which the row's conf_load_time keys. */
export function parseStatus(row: Record<string, unknown>, pendingRestart = false): ServerStatus {
  const inRecovery = row.in_recovery === true;
  const rows = Array.isArray(row.replication) ? row.replication.filter(isPlainObject) : [];
  return {
    inRecovery,
    role: inRecovery ? 'replica' : 'primary',
    timeline: row.timeline === null ? null : Number(row.timeline),
    postmasterStartTime: Number(row.start_time),
    writeLsn: lsnOrNull(row.write_lsn),
    receiveLsn: lsnOrNull(row.receive_lsn),
    replayLsn: lsnOrNull(row.replay_lsn),
    replayPaused: row.replay_paused === true,
    replicationState: inRecovery ? (row.receiver_status === 'streaming' ? 'streaming' : 'in archive recovery') : null,
    serverVersion: Number(row.server_version),
    pendingRestart,
    slots: Array.isArray(row.slots) ? row.slots.filter(isPlainObject).map(slotRow) : [],
    replication: rows.map((r) => ({
      pid: Number(r.pid),
      usename: (r.usename as string | null) ?? null,
      applicationName: String(r.application_name ?? ''),
      clientAddr: (r.client_addr as string | null) ?? null,
      state: (r.state as string | null) ?? null,
      syncState: (r.sync_state as string | null) ?? null,
      syncPriority: r.sync_priority === null || r.sync_priority === undefined ? null : Number(r.sync_priority),
      writeLsn: lsnOrNull(r.write_lsn),
      flushLsn: lsnOrNull(r.flush_lsn),
      replayLsn: lsnOrNull(r.replay_lsn),
    })),
  };
}

/** A lazily (re)connected client; any connection error drops it so the next call reconnects. */
export class LocalConnection {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  /** `onLost`: the open connection ended without close() (the server went away, or was killed). */
  constructor(private readonly params: () => ConnectionParams, private readonly timeoutMs = 5000, private readonly onLost?: () => void) {}

  private async get(): Promise<pg.Client> {
    if (this.client) return this.client;
    if (!this.connecting) {
      this.connecting = (async () => {
        const p = this.params();
        const c = new pg.Client({
          host: p.host, port: p.port, user: p.user, password: p.password ?? undefined, database: p.database,
          connectionTimeoutMillis: this.timeoutMs, statement_timeout: this.timeoutMs * 6, application_name: 'pgha',
        });
        c.on('error', () => this.drop(c));
        c.on('end', () => this.drop(c));
        await c.connect();
        this.client = c;
        return c;
      })().finally(() => { this.connecting = null; });
    }
    return this.connecting;
  }

  private drop(c: pg.Client): void {
    const current = this.client === c;
    if (current) this.client = null;
    c.end().catch(() => undefined);
    if (current) this.onLost?.();
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string | NamedQuery, values?: unknown[]): Promise<R[]> {
    const c = await this.get();
    try {
      return (await (typeof sql === 'string' ? c.query<R>(sql, values) : c.query<R>({ name: sql.name, text: sql.text, values }))).rows;
    } catch (e) {
      // A server-side error leaves the connection usable; anything else (socket gone) does not.
      if (!(e instanceof Error && 'severity' in e)) this.drop(c);
      throw e;
    }
  }

  /** Close the connection; a frozen or hung server never answers the goodbye, so this waits at most a second. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      c.end().then(() => true, () => true),
      new Promise<false>((r) => { timer = setTimeout(() => r(false), 1000); }),
    ]);
    clearTimeout(timer);
    // pg.Client has no public way to drop its socket without the server's reply.
    if (!ended) (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

export const PENDING_RESTART_QUERY: NamedQuery = {
  name: 'pgha_pending_restart', text: 'SELECT pg_catalog.bool_or(pending_restart) AS pending FROM pg_catalog.pg_settings',
};

/**
 * pg_settings.pending_restart, asked only when the configuration the backend runs with was loaded
 * anew. The flag changes only when a backend (re)loads the configuration files (at its start, which
 * a new connection's inherited load time tells, or on SIGHUP), and each load moves
 * pg_conf_load_time(); building pg_settings cost the backend 1.7 ms per cycle when it was part of
 * the monitoring query, more than the rest of it.
 */
export class PendingSettings {
  private known: { loadTime: string; pending: boolean } | null = null;

  constructor(private readonly query: (q: NamedQuery) => Promise<Array<Record<string, unknown>>>) {}

  /** A failed read leaves the last answer standing (false before any) and asks again next time. */
  async pending(loadTime: string | null): Promise<boolean> {
    if (loadTime !== null && this.known?.loadTime === loadTime) return this.known.pending;
    try {
      const pending = (await this.query(PENDING_RESTART_QUERY))[0]?.pending === true;
      this.known = loadTime === null ? null : { loadTime, pending };
      return pending;
    } catch {
      return this.known?.pending ?? false;
    }
  }
}

/** Quote an identifier for SQL (role names in CREATE ROLE / GRANT). */
export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
