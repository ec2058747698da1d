/**
 * Carries out slot maintenance (the `sync_slots` operations decide() plans from PgFacts.slots); what the
 * leader publishes in `/status` is built by the DCS facade (core/src/dcs/status-slots.ts).
 * Logical slot advances on a replica run in the background, one batch at a time, because
 * pg_replication_slot_advance decodes WAL and may take longer than a cycle (as Patroni's
 * SlotsAdvanceThread); copying logical slots from the primary needs a restart and is handed back to
 * the executor as a long action.
 */
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { formatLsn } from '../postgres/lsn.js';
import type { ReplicaSource } from '../replica/contract.js';
import { desiredSlots, type SlotNode } from './desired.js';
import type { SlotsIO } from './io.js';
import { readyLogicalSlots, type Xid } from './readiness.js';
import { sameSlot, type SlotOp, type SlotRow } from './plan.js';

/** SQLSTATEs of an advance that can never succeed: undefined_file (WAL removed), object_not_in_prerequisite_state (invalidated). */
const LOST_COPY_CODES = new Set(['58P01', '55000']);

export interface SlotSettings {
  readonly node: Omit<SlotNode, 'role' | 'majorVersion'>;
}

export class SlotKeeper {
  private advancing: Promise<void> | null = null;
  /** Logical slots not yet known to be safe after a failover -> the primary's catalog_xmin for them (readiness.ts). */
  private pending = new Map<string, Xid>();
  /** As Patroni after a start: every existing logical slot is checked once. */
  private checkAll = true;
  /** Logical copies whose advance found their WAL gone or the slot invalidated: only a new copy helps. */
  private lost = new Set<string>();

  constructor(private readonly io: SlotsIO, private readonly logger: Logger, private readonly settings: () => SlotSettings) {}

  /** Carry out the operations decide() planned; logical advances run in the background. */
  async execute(ops: readonly SlotOp[]): Promise<void> {
    const background: SlotOp[] = [];
    for (const op of ops) {
      if (op.op === 'advance_logical') background.push(op);
      else await this.apply(op);
    }
    if (background.length) this.advanceInBackground(background);
  }

  private async apply(op: SlotOp): Promise<void> {
    try {
      switch (op.op) {
        case 'drop': {
          const rows = await this.io.query<{ dropped: boolean }>(
            'SELECT pg_catalog.pg_drop_replication_slot(slot_name) IS NULL AS dropped FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND NOT active', [op.name]);
          if (rows.length) this.logger.info(`dropped replication slot '${op.name}' (${op.reason})`);
          else this.logger.warn(`unable to drop replication slot '${op.name}' (${op.reason}): it is active`);
          return;
        }
        case 'create_physical':
          await this.io.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS '
            + "(SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND slot_name = $1)", [op.name]);
          this.logger.info(`created physical replication slot '${op.name}'`);
          return;
        case 'advance_physical':
          await this.io.query('SELECT pg_catalog.pg_replication_slot_advance($1, $2)', [op.name, formatLsn(BigInt(op.lsn))]);
          return;
        case 'create_logical':
          await this.io.query('SELECT pg_catalog.pg_create_logical_replication_slot($1, $2) WHERE NOT EXISTS '
            + "(SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_type = 'logical' AND slot_name = $1)", [op.name, op.plugin], op.database);
          this.logger.info(`created logical replication slot '${op.name}' (${op.database}, ${op.plugin})`);
          return;
        case 'advance_logical':
          await this.io.query('SELECT pg_catalog.pg_replication_slot_advance($1, $2)', [op.name, formatLsn(BigInt(op.lsn))], op.database);
          this.lost.delete(op.name);
          return;
      }
    } catch (e) {
      this.logger.error(`replication slot '${op.name}': ${op.op} failed: ${e instanceof Error ? e.message : String(e)}`);
      // As Patroni: the WAL file is gone (58P01) or the slot was invalidated (55000). Advancing again
      // fails for ever; the next cycle copies the slot from the primary again instead.
      if (op.op === 'advance_logical' && LOST_COPY_CODES.has((e as { code?: unknown }).code as string)) {
        if (!this.lost.has(op.name)) this.logger.warn(`replication slot '${op.name}': the copy cannot be advanced; copying it from the primary again`);
        this.lost.add(op.name);
      }
    }
  }

  /** Logical copies to copy again from the primary (their advance failed for good); reported in PgFacts. */
  lostCopies(): string[] { return [...this.lost]; }

  private advanceInBackground(ops: SlotOp[]): void {
    if (this.advancing) return; // the next cycle schedules the newest positions
    this.advancing = (async () => {
      for (const op of ops) await this.apply(op);
    })().finally(() => { this.advancing = null; });
  }

  /** Wait for a background advance (before stopping or promoting PostgreSQL). */
  async settle(): Promise<void> { await this.advancing; }

  /** Patroni's on_promote: logical slots copied but never advanced since may be unsafe to use. */
  onPromote(): void {
    if (this.pending.size) this.logger.warn(`Logical replication slots that might be unsafe to use after promote: ${[...this.pending.keys()].join(', ')}`);
    this.pending.clear();
  }

  /**
   * On a replica with a leader: learn which logical copies are safe after a failover (logs it; a
   * promotion warns about the others). `mySlot`: this replica's physical slot on the primary.
   */
  async checkReadiness(cluster: Cluster, rows: readonly SlotRow[], mySlot: string | null): Promise<void> {
    const logical = rows.filter((r) => r.type === 'logical');
    if (this.checkAll) for (const r of logical) if (!this.pending.has(r.name)) this.pending.set(r.name, null);
    this.checkAll = false;
    const leader = cluster.leader;
    if (!this.pending.size || !leader || !mySlot) return;
    let physical: Xid = null;
    try {
      const unknown = [...this.pending].filter(([, v]) => v === null).map(([k]) => k);
      const found = await this.io.queryMember<{ slot_name: string; catalog_xmin: string | null }>(leader,
        'SELECT slot_name, catalog_xmin::text AS catalog_xmin FROM pg_catalog.pg_get_replication_slots()'
        + ' WHERE NOT pg_catalog.pg_is_in_recovery() AND slot_name = ANY($1)', [[...unknown, mySlot]]);
      const own = found.find((r) => r.slot_name === mySlot);
      if (!own) return this.logger.warn(`Physical slot ${mySlot} does not exist on the primary`);
      physical = own.catalog_xmin;
      if (physical === null) {
        const hsf = await this.io.query<{ on: boolean }>("SELECT pg_catalog.current_setting('hot_standby_feedback')::boolean AS on").catch(() => []);
        if (hsf[0]?.on === false) this.logger.error('Logical slot failover requires "hot_standby_feedback". Please check postgresql.auto.conf');
        return;
      }
      for (const r of found) if (r.slot_name !== mySlot) this.pending.set(r.slot_name, r.catalog_xmin);
    } catch (e) {
      return this.logger.error(`Failed to check ${mySlot} physical slot on the primary: ${e instanceof Error ? e.message : String(e)}`);
    }
    const standby = new Map(logical.map((r) => [r.name, r.catalogXmin]));
    for (const name of readyLogicalSlots(this.pending, physical, standby)) {
      this.pending.delete(name);
      if (standby.has(name)) this.logger.info(`Logical slot ${name} is safe to be used after a failover`);
    }
  }

  /** Read the slots' state files from the leader; null when nothing can be copied. */
  async fetchFromLeader(cluster: Cluster, leader: ReplicaSource, names: readonly string[]): Promise<Array<{ name: string; state: Buffer }>> {
    const version = await this.io.query<{ v: number }>("SELECT pg_catalog.current_setting('server_version_num')::int AS v");
    const desired = desiredSlots(cluster, { ...this.settings().node, role: 'replica', majorVersion: Number(version[0]?.v ?? 0) });
    const rows = await this.io.queryMember<Record<string, unknown>>(leader,
      'SELECT slot_name, slot_type, datname, plugin, pg_catalog.pg_read_binary_file(\'pg_replslot/\' || slot_name || \'/state\') AS state'
      + ' FROM pg_catalog.pg_get_replication_slots() JOIN pg_catalog.pg_database ON datoid = oid'
      + ' WHERE NOT pg_catalog.pg_is_in_recovery() AND slot_name = ANY($1)', [names]);
    const out: Array<{ name: string; state: Buffer }> = [];
    for (const r of rows) {
      const name = String(r.slot_name);
      const want = desired[name];
      const have = { name, type: 'logical' as const, database: String(r.datname), plugin: String(r.plugin) };
      if (want && r.slot_type === 'logical' && sameSlot(want, { ...have, active: false, xmin: null, catalogXmin: null, restartLsn: null, confirmedFlushLsn: null, walStatus: null })) {
        out.push({ name, state: r.state as Buffer });
      } else {
        this.logger.warn(`will not copy the logical slot '${name}': configuration and the slot on the primary differ`);
      }
    }
    return out;
  }

  /** Install fetched slot files (PostgreSQL stopped). */
  install(files: ReadonlyArray<{ name: string; state: Buffer }>): void {
    this.io.writeSlotFiles(files);
    for (const f of files) {
      this.pending.set(f.name, null);
      this.lost.delete(f.name);
    }
  }
}

