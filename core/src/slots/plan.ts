/**
 * Slot maintenance as data: given the slots a node must have (desired.ts) and the ones it has,
 * the operations that converge them (Patroni 4.1's SlotsHandler.sync_replication_slots, restated):
 *
 *  1. drop slots nobody wants (not in pause, not matched by `ignore_slots`), slots whose WAL is lost
 *     (`wal_status = lost`), and slots whose type/database/plugin no longer match the configuration;
 *  2. physical: create missing ones (reserving WAL at once); on PostgreSQL 11+ advance copies that are
 *     not expected to be active to the published position; drop a copy holding an `xmin` nobody will
 *     ever release (not expected active), and one without `restart_lsn` (made by someone else);
 *  3. logical on the primary: create missing ones in their database;
 *  4. logical on a replica: advance existing ones to the published position (never past what this
 *     replica replayed); missing ones that the primary publishes a position for are copied from it
 *     (their state files; PostgreSQL 15 cannot create a logical slot during recovery), and so are
 *     copies whose advance failed for good (their WAL is gone, or they were invalidated).
 */
import { canAdvanceSlots, type DesiredSlot } from './desired.js';

/** A row of pg_replication_slots (temporary slots excluded). LSNs in bytes. */
export interface SlotRow {
  readonly name: string;
  readonly type: 'physical' | 'logical';
  readonly plugin: string | null;
  readonly database: string | null;
  readonly active: boolean;
  /** Transaction ids as strings (xid), null when unset. */
  readonly xmin: string | null;
  readonly catalogXmin: string | null;
  readonly restartLsn: number | null;
  readonly confirmedFlushLsn: number | null;
  /** PostgreSQL 13+: reserved, extended, unreserved, lost. */
  readonly walStatus: string | null;
}

export type IgnoreMatcher = Readonly<Record<string, unknown>>;

export type SlotOp =
  | { readonly op: 'drop'; readonly name: string; readonly reason: string }
  | { readonly op: 'create_physical'; readonly name: string }
  | { readonly op: 'advance_physical'; readonly name: string; readonly lsn: number }
  | { readonly op: 'create_logical'; readonly name: string; readonly database: string; readonly plugin: string }
  | { readonly op: 'advance_logical'; readonly name: string; readonly database: string; readonly lsn: number };

export interface SlotPlanInput {
  readonly desired: Readonly<Record<string, DesiredSlot>>;
  readonly existing: readonly SlotRow[];
  /** PostgreSQL runs as a primary (not in recovery). */
  readonly isPrimary: boolean;
  readonly paused: boolean;
  readonly ignore: readonly IgnoreMatcher[];
  readonly majorVersion: number;
  /** A replica's replay position: logical slots are never advanced past it. */
  readonly replayLsn: number | null;
  /** Physical copies with a stale xmin may be dropped: the cluster has a leader, and it is not us still in recovery. */
  readonly cleanInactivePhysical: boolean;
  /** Logical copies on a replica that can no longer be advanced (WAL gone, invalidated): copied again. */
  readonly lostCopies?: readonly string[];
}

export interface SlotPlan {
  readonly ops: readonly SlotOp[];
  /** Logical slots a replica must copy from the primary (missing here, published there). */
  readonly copy: readonly string[];
}

/** Patroni's ignore_slots: every attribute a matcher names must match (name, type, database, plugin). */
export function isIgnored(slot: Pick<SlotRow, 'name' | 'type' | 'database' | 'plugin'>, matchers: readonly IgnoreMatcher[]): boolean {
  return matchers.some((m) => (m.name === undefined || m.name === null || m.name === slot.name)
    && (['database', 'plugin', 'type'] as const).every((a) => !m[a] || m[a] === slot[a]));
}

/** Same slot as configured: the type, and for a logical slot its database and plugin. */
export function sameSlot(want: DesiredSlot, have: SlotRow): boolean {
  if (want.type !== have.type) return false;
  return want.type === 'physical' || (want.database === have.database && want.plugin === have.plugin);
}

export function planSlots(input: SlotPlanInput): SlotPlan {
  const { desired, paused, ignore } = input;
  const canAdvance = canAdvanceSlots(input.majorVersion);
  const have = new Map(input.existing.map((r) => [r.name, r]));
  const ops: SlotOp[] = [];
  const copy: string[] = [];
  const drop = (name: string, reason: string) => {
    ops.push({ op: 'drop', name, reason });
    have.delete(name);
  };

  // 1. Unknown, lost, or changed slots.
  for (const row of input.existing) {
    const lost = row.name in desired && row.walStatus === 'lost';
    if (row.name in desired && !lost) continue;
    if (paused || isIgnored(row, ignore)) continue;
    drop(row.name, lost ? 'wal_status=lost' : 'unknown replication slot');
  }
  for (const [name, want] of Object.entries(desired)) {
    const row = have.get(name);
    if (row && !sameSlot(want, row)) drop(name, `configuration changed to ${want.type === 'logical' ? `logical ${want.database}/${want.plugin}` : 'physical'}`);
  }

  for (const [name, want] of Object.entries(desired)) {
    if (want.type === 'physical') {
      // 2. Physical.
      let row = have.get(name);
      if (row && canAdvance && input.cleanInactivePhysical && want.expectedActive === false && row.xmin) {
        drop(name, `inactive copy holds xmin ${row.xmin}`);
        row = undefined;
      }
      if (!row) {
        ops.push({ op: 'create_physical', name });
      } else if (canAdvance && want.expectedActive !== true && !row.xmin) {
        if (!row.restartLsn) drop(name, 'no restart_lsn (created by someone else without reserving WAL)');
        else if (want.lsn && want.lsn > row.restartLsn) ops.push({ op: 'advance_physical', name, lsn: want.lsn });
      }
      continue;
    }
    const row = have.get(name);
    if (input.isPrimary) {
      // 3. Logical on the primary.
      if (!row) ops.push({ op: 'create_logical', name, database: want.database, plugin: want.plugin });
      continue;
    }
    // 4. Logical on a replica.
    if (row && want.lsn !== undefined && input.lostCopies?.includes(name)) {
      copy.push(name);
    } else if (row) {
      if (want.lsn !== undefined) {
        const target = input.replayLsn === null ? 0 : Math.min(want.lsn, input.replayLsn);
        if ((row.confirmedFlushLsn ?? 0) < target) ops.push({ op: 'advance_logical', name, database: want.database, lsn: target });
      }
    } else if (want.lsn !== undefined) {
      copy.push(name);
    }
  }
  return { ops, copy };
}
