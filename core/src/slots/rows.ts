/** Reading pg_replication_slots into SlotRow (shared by the agent's facts and the SlotKeeper). */
import type { SlotRow } from './plan.js';

/**
 * The non-temporary slots with what slot maintenance compares (LSNs as byte offsets). It is part of
 * the monitoring query, so it must not fail on any server that query supports (10 and later):
 * `wal_status` (13) is read through to_jsonb, which yields NULL where the column does not exist.
 */
export const SLOT_ROWS_SQL = `SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.active, s.xmin::text AS xmin, s.catalog_xmin::text AS catalog_xmin,
  pg_catalog.pg_wal_lsn_diff(s.restart_lsn, '0/0')::bigint AS restart_lsn,
  pg_catalog.pg_wal_lsn_diff(s.confirmed_flush_lsn, '0/0')::bigint AS confirmed_flush_lsn,
  pg_catalog.to_jsonb(s) ->> 'wal_status' AS wal_status
FROM pg_catalog.pg_replication_slots s WHERE NOT s.temporary`;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function slotRow(r: Record<string, unknown>): SlotRow {
  return {
    name: String(r.slot_name), type: r.slot_type === 'logical' ? 'logical' : 'physical', plugin: text(r.plugin), database: text(r.database),
    active: r.active === true, xmin: text(r.xmin), catalogXmin: text(r.catalog_xmin), restartLsn: num(r.restart_lsn),
    confirmedFlushLsn: num(r.confirmed_flush_lsn), walStatus: text(r.wal_status),
  };
}
