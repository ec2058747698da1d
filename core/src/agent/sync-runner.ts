/**
 * The IO side of synchronous replication on the leader: reads pg_stat_replication, keeps which
 * listed standbys have caught up since synchronous_standby_names last changed, and runs the steps
 * the pure planners (ha/sync-steps.ts, ha/quorum.ts) return: `/sync` writes are compare-and-swap
 * on its version and the first lost one ends the cycle's work.
 */
import type { Dcs } from '../dcs/facade.js';
import { planQuorum, planQuorumPrepromote } from '../ha/quorum.js';
import { EMPTY_SSN, names, parseSyncStandbyNames, selectStandbys, SYNC_STRICT_PLACEHOLDER, updateReadiness, type ParsedSsn, type ReplicaRow, type SyncSnapshot } from '../ha/sync.js';
import { planMultisync, planMultisyncPrepromote, type SyncKey, type SyncStep } from '../ha/sync-steps.js';
import type { SyncSettings } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import type { Member } from '../model/member.js';
import { parseIntLoose } from '../model/names.js';
import { parseBool, truthy } from '../util/json.js';
import type { EffectiveConfig } from '../config/index.js';
import type { PostgresPort, SyncPgStatus } from './postgres-port.js';

/** The synchronous-replication settings in force: off in a standby cluster (as Patroni). */
export function syncSettings(eff: EffectiveConfig): SyncSettings {
  const c = eff.cluster;
  const raw = eff.dynamic.synchronous_mode;
  const mode = c.standbyCluster ? false : raw === 'quorum' ? 'quorum' : c.synchronousMode === true || parseBool(raw) === true;
  return {
    mode, strict: c.synchronousModeStrict || parseBool(eff.dynamic.synchronous_mode_strict) === true,
    nodeCount: Math.max(1, c.synchronousNodeCount), maxLagOnSyncnode: c.maximumLagOnSyncnode,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Patroni's nosync: the tag when set, else sync_priority <= 0. */
export function memberNosync(m: Member): boolean {
  const t = m.tags.nosync;
  if (t !== undefined && t !== null) return truthy(t);
  const p = parseIntLoose(m.tags.sync_priority);
  return p !== null && p <= 0;
}

export class SyncRunner {
  private lastSsn: string | null = null;
  private parsed: ParsedSsn = EMPTY_SSN;
  private flushAtChange = 0;
  private ready = new Set<string>();
  private strictWarned = false;

  constructor(private readonly name: string, private readonly pg: PostgresPort, private readonly dcs: Dcs, private readonly logger: Logger) {}

  /** Replication rows of eligible members: running, not nosync, not me, streaming, not cascading. */
  private rows(st: SyncPgStatus, cluster: Cluster): ReplicaRow[] {
    const col = st.synchronousCommit === 'remote_apply' ? 'replay' : st.synchronousCommit === 'remote_write' ? 'write' : 'flush';
    const members = new Map(cluster.members.filter((m) => m.data.state === 'running' && !memberNosync(m) && m.name.toLowerCase() !== this.name.toLowerCase())
      .map((m) => [m.name.toLowerCase(), m]));
    const streaming = new Map(st.replication.filter((r) => r[col] !== null && members.has(r.name.toLowerCase())).map((r) => [r.name.toLowerCase(), r]));
    const cascades = (m: Member, depth = 0): boolean => {
      const up = m.replicatefrom ? members.get(m.replicatefrom.toLowerCase()) : undefined;
      if (!up || depth > 10) return false;
      return up.replicatefrom ? cascades(up, depth + 1) : streaming.has(up.name.toLowerCase());
    };
    const out: ReplicaRow[] = [];
    for (const [key, r] of streaming) {
      const m = members.get(key)!;
      if (cascades(m)) continue;
      out.push({ name: m.name, pid: r.pid, syncState: r.syncState, lsn: r[col]!, nofailover: m.nofailover, syncPriority: m.syncPriority });
    }
    return out;
  }

  /** Patroni's current_state(): what PostgreSQL waits for now, and who we want / trust. */
  async snapshot(cluster: Cluster, s: SyncSettings): Promise<SyncSnapshot | null> {
    const st = await this.pg.syncStatus();
    if (!st) return null;
    if (st.ssn !== this.lastSsn) {
      this.lastSsn = st.ssn;
      try {
        this.parsed = parseSyncStandbyNames(st.ssn);
      } catch (e) {
        this.logger.warn(e instanceof Error ? e.message : String(e));
        this.parsed = EMPTY_SSN;
      }
      // Standbys listed from now on count only once they reach what is flushed now (quorum mode:
      // all of them, since a standby listed before may have missed commits others acknowledged).
      this.flushAtChange = st.flushLsn;
      if (s.mode === 'quorum') this.ready = new Set();
    }
    const rows = this.rows(st, cluster);
    const quorum = s.mode === 'quorum';
    this.ready = updateReadiness(this.ready, rows, this.parsed.members, (n) => cluster.sync.matches(n), this.flushAtChange, quorum);
    const sel = selectStandbys(rows, this.ready, st.flushLsn, { nodeCount: s.nodeCount, maxLag: s.maxLagOnSyncnode, quorum });
    return {
      type: this.parsed.type, numsync: this.parsed.num,
      sync: this.parsed.hasStar ? [SYNC_STRICT_PLACEHOLDER] : this.parsed.members,
      confirmed: sel.confirmed, active: sel.active, ready: [...this.ready].filter((n) => names.has(this.parsed.members, n)),
    };
  }

  /** The leader's cycle (Patroni's process_sync_replication). */
  async process(cluster: Cluster, s: SyncSettings): Promise<void> {
    if (!s.mode) return this.disable(cluster);
    const state = await this.snapshot(cluster, s);
    if (!state) return;
    const key = keyOf(cluster);
    const minNodes = s.strict ? 1 : 0;
    const steps = s.mode === 'quorum'
      ? planQuorum({ me: this.name, key, state, minNodes, wanted: s.nodeCount })
      : planMultisync({ me: this.name, key, state, minNodes });
    await this.run(steps, cluster, s);
  }

  /** Before promoting: this node becomes the `/sync` leader; false when the CAS was lost (postpone). */
  async prepromote(cluster: Cluster, s: SyncSettings): Promise<boolean> {
    if (!s.mode) {
      await this.disable(cluster);
      return true;
    }
    const key = keyOf(cluster);
    const minNodes = s.strict ? 1 : 0;
    const steps = s.mode === 'quorum' ? planQuorumPrepromote(this.name, key, minNodes) : planMultisyncPrepromote(this.name, key, minNodes);
    return this.run(steps, cluster, s);
  }

  /** synchronous_mode off: delete `/sync`, give synchronous_standby_names back to the user. */
  private async disable(cluster: Cluster): Promise<void> {
    if (!cluster.sync.isEmpty && (await this.dcs.deleteSyncState(cluster.sync.version))) {
      this.logger.info('Disabled synchronous replication');
    }
    await this.pg.setSyncStandbyNames(undefined);
  }

  private async run(steps: readonly SyncStep[], cluster: Cluster, s: SyncSettings): Promise<boolean> {
    let version = cluster.sync.version;
    for (const step of steps) {
      switch (step.kind) {
        case 'warn':
          if (!this.strictWarned) this.logger.warn(step.log);
          this.strictWarned = true;
          continue;
        case 'write_sync': {
          const r = await this.dcs.writeSyncState(step.leader, step.members, version, step.quorum ?? 0);
          if (!r) {
            this.logger.info('Synchronous replication key updated by someone else.');
            return false;
          }
          version = r.version;
          this.logger.info(step.log);
          continue;
        }
        case 'set_ssn':
          this.strictWarned = step.log.includes('synchronous_mode_strict');
          if (await this.pg.setSyncStandbyNames(step.value)) {
            this.logger.info(step.log);
            // PostgreSQL applies a reload within milliseconds; then note the flush LSN of the change.
            await sleep(100);
            await this.snapshot(cluster, s).catch(() => null);
          }
          continue;
        case 'publish_confirmed': {
          let confirmed = (await this.snapshot(cluster, s))?.confirmed ?? [];
          const deadline = Date.now() + (step.wait ? 2000 : 0);
          while (step.wait && Date.now() < deadline) {
            const snap = await this.snapshot(cluster, s);
            confirmed = snap?.confirmed ?? [];
            if (snap && names.equal(confirmed, snap.active)) break;
            await sleep(200);
          }
          if (confirmed.length && !names.equal(confirmed, step.written)) {
            const r = await this.dcs.writeSyncState(this.name, confirmed, version, 0);
            if (!r) {
              this.logger.info('Synchronous replication key updated by someone else');
              return false;
            }
            version = r.version;
            this.logger.info(`Synchronous standby status assigned to [${names.sorted(confirmed).map((n) => `'${n}'`).join(', ')}]`);
          }
          continue;
        }
      }
    }
    return true;
  }
}

function keyOf(cluster: Cluster): SyncKey {
  const k = cluster.sync;
  return { leader: k.leader, members: k.members, quorum: k.quorum };
}
