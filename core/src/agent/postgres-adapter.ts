/**
 * The agent's PostgresPort over the PostgreSQL controller, Bootstrap and the replica-creation chain.
 * Thin: it maps the port's verbs onto the controller. It keeps no role of its own: the role callbacks
 * report comes from the agent (memory and the live server), see `publishedRole`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeStatus } from '../api/backend.js';
import { Bootstrap } from '../bootstrap/bootstrap.js';
import type { DemoteMode, PgFacts } from '../ha/types.js';
import type { PostgresController } from '../postgres/controller.js';
import { checkpointInfo, clusterState, systemIdentifier, type ControlData } from '../postgres/datadir.js';
import type { ServerStatus } from '../postgres/monitor.js';
import { rewind } from '../postgres/rewind.js';
import { createReplica, type ReplicaMethodResolver } from '../replica/create.js';
import type { CallbackAction, CallbackRunner } from './callbacks.js';
import { checkDiverged, parseTimelineHistory } from './divergence.js';
import type { FollowTarget, PostgresPort, StopPortOptions, SyncPgStatus } from './postgres-port.js';
import { followSlot, hasConnection, standbyOverrides } from '../ha/standby-source.js';
import type { RecoveryMode } from '../postgres/config-files.js';
import { isPlainObject } from '../util/json.js';

const SYNC_STATUS_SQL = `SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
  pg_catalog.current_setting('synchronous_standby_names') AS ssn,
  pg_catalog.current_setting('synchronous_commit') AS synchronous_commit,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
    ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_flush_lsn(), '0/0')::bigint::text END AS flush_lsn,
  (SELECT pg_catalog.json_agg(r) FROM (
     SELECT pid, application_name, state, sync_state,
       pg_catalog.pg_wal_lsn_diff(write_lsn, '0/0')::bigint::text AS write_lsn,
       pg_catalog.pg_wal_lsn_diff(flush_lsn, '0/0')::bigint::text AS flush_lsn,
       pg_catalog.pg_wal_lsn_diff(replay_lsn, '0/0')::bigint::text AS replay_lsn
     FROM pg_catalog.pg_stat_replication) r) AS replication`;

const num = (v: bigint | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

/** How long one monitoring query / pg_controldata run serves repeated callers (facts, member key, health checks). */
const MEMO_MS = 250;

export class ControllerPort implements PostgresPort {
  private lastStatus: ServerStatus | null = null;
  private roleView: (() => string) | null = null;
  /** The dynamic `standby_cluster` section (null: not a standby cluster). */
  private standbySection: Readonly<Record<string, unknown>> | null = null;
  private memo = new Map<string, { at: number; value: Promise<unknown> }>();
  private runningControl: { pid: number; cd: ControlData } | null = null;

  constructor(
    private readonly c: PostgresController,
    private readonly bootstrapSection: Readonly<Record<string, unknown>>,
    /** Which method a create_replica_methods name means (the plugin host's resolver, injected). */
    private readonly resolveReplicaMethod: ReplicaMethodResolver,
    /** Patroni's postgresql.callbacks. */
    private readonly callbacks?: CallbackRunner,
  ) {}

  private callback(action: CallbackAction, role = this.role()): void { this.callbacks?.call(action, role); }

  announceRunning(): void { if (this.callbacks && !this.callbacks.called && this.c.isRunning()) this.callback('on_start'); }

  /** The agent tells the port the current `standby_cluster` section (recovery settings depend on it). */
  setStandbyCluster(section: Readonly<Record<string, unknown>> | null): void { this.standbySection = section; }

  /** Recovery settings for following `source`, with the standby cluster's slot and overrides. */
  private recovery(source: FollowTarget): RecoveryMode {
    const slot = followSlot(source);
    const r = this.c.standbyRecovery(hasConnection(source) ? source : null, slot === undefined ? {} : { slotName: slot });
    const extra = standbyOverrides(this.standbySection, source);
    return r.kind === 'standby' && Object.keys(extra).length ? { kind: 'standby', params: { ...r.params, ...extra } } : r;
  }

  get state(): string { return this.c.state; }

  get liveRole(): 'primary' | 'replica' | null {
    if (!this.lastStatus || !this.c.isRunning() || this.c.state !== 'running') return null;
    return this.lastStatus.inRecovery ? 'replica' : 'primary';
  }

  dataDirEmpty(): boolean { return this.c.dataDirectoryEmpty(); }
  useRole(role: () => string): void { this.roleView = role; }

  private role(): string {
    return this.roleView?.() ?? this.liveRole ?? (this.c.dataDirectoryEmpty() ? 'uninitialized' : 'replica');
  }

  /** Whether `name` exists in the data directory (its path built once: asked every cycle). */
  private file(name: string): boolean {
    if (this.pathsOf !== this.c.dataDir) {
      this.paths.clear();
      this.pathsOf = this.c.dataDir;
    }
    let path = this.paths.get(name);
    if (path === undefined) this.paths.set(name, (path = join(this.c.dataDir, name)));
    return existsSync(path);
  }
  private readonly paths = new Map<string, string>();
  private pathsOf = '';

  /** One in-flight or recent result per key; cleared by anything that changes PostgreSQL's state. */
  private cached<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const hit = this.memo.get(key);
    if (hit && performance.now() - hit.at < MEMO_MS) return hit.value as Promise<T>;
    const value = fn();
    this.memo.set(key, { at: performance.now(), value });
    return value;
  }

  private serverStatus() { return this.cached('status', () => this.c.status()); }
  private controlData() { return this.cached('controldata', () => this.c.controlData()); }
  private invalidate(): void { this.memo.clear(); this.runningControl = null; }

  /**
   * pg_controldata (a process spawned) once per running postmaster rather than every cycle: while a
   * server answers, the status query says what the cycle needs, and the system identifier cannot
   * change under it. A stop, crash or anything run through `changing` forgets it.
   */
  private async controlDataFor(st: ServerStatus | null): Promise<ControlData | null> {
    const pid = st ? this.c.postmasterPid() : null;
    if (pid !== null && this.runningControl?.pid === pid) return this.runningControl.cd;
    const cd = await this.controlData().catch(() => null);
    this.runningControl = pid !== null && cd ? { pid, cd } : null;
    return cd;
  }

  /** Run something that changes PostgreSQL's state; cached facts before and during it are stale. */
  private async changing<T>(fn: () => Promise<T>): Promise<T> {
    this.invalidate();
    try {
      return await fn();
    } finally {
      this.invalidate();
    }
  }

  async facts(): Promise<PgFacts> {
    if (this.c.dataDirectoryEmpty()) {
      this.lastStatus = null;
      return { dataDirEmpty: true, sysid: null, controlState: null, running: this.c.isRunning(), starting: false, inRecovery: null, timeline: null, walPosition: null, recoveryConfigured: false };
    }
    const running = this.c.isRunning();
    const st = running && this.c.state !== 'starting' ? await this.serverStatus() : null;
    this.lastStatus = st;
    const cd = await this.controlDataFor(st);
    const recoveryConfigured = this.file('standby.signal') || this.file('recovery.signal');
    // A server that answers is in production or in archive recovery, as its pg_control says.
    let controlState = st ? (st.inRecovery ? 'in archive recovery' : 'in production') : cd ? clusterState(cd) : null;
    // A fresh base backup carries the source's "in production" state but starts in archive recovery.
    if (recoveryConfigured && this.file('backup_label')) controlState = 'in archive recovery';
    const wal = st ? (st.inRecovery ? Math.max(num(st.receiveLsn) ?? 0, num(st.replayLsn) ?? 0) : num(st.writeLsn)) : null;
    return {
      dataDirEmpty: false,
      sysid: cd ? systemIdentifier(cd) : null,
      controlState,
      running,
      starting: running && this.c.state === 'starting',
      inRecovery: st ? st.inRecovery : null,
      timeline: st?.timeline ?? (cd ? checkpointInfo(cd)?.timeline ?? null : null),
      walPosition: wal,
      recoveryConfigured,
      receiverStreaming: st?.inRecovery ? st.replicationState === 'streaming' : null,
      serverVersion: st?.serverVersion ?? null,
      slots: st && this.c.state === 'running' ? st.slots : null,
      replayLsn: st?.inRecovery ? num(st.replayLsn) : null,
    };
  }

  async nodeStatus(): Promise<NodeStatus> {
    const st = this.c.isRunning() && this.c.state !== 'starting' ? await this.serverStatus() : null;
    if (st) this.lastStatus = st;
    const cd = await this.controlDataFor(st);
    const pending = st ? this.c.pendingRestart(st) : false;
    return {
      state: this.c.state,
      role: this.role(),
      postmasterStartTime: st ? new Date(st.postmasterStartTime * 1000).toISOString().replace('T', ' ').replace('Z', '+00:00') : null,
      serverVersion: st?.serverVersion ?? null,
      timeline: st?.timeline ?? null,
      walLocation: st && !st.inRecovery ? num(st.writeLsn) : null,
      receivedLocation: st?.inRecovery ? num(st.receiveLsn) : null,
      replayedLocation: st?.inRecovery ? num(st.replayLsn) : null,
      replayedTimestamp: null,
      replayPaused: st?.replayPaused ?? false,
      replicationState: st?.replicationState ?? null,
      // Patroni's `replication` entries: pg_stat_replication columns by their SQL names.
      replication: (st?.replication ?? []).map((r) => ({
        usename: r.usename, application_name: r.applicationName, client_addr: r.clientAddr,
        state: r.state, sync_state: r.syncState, sync_priority: r.syncPriority,
      })),
      sysid: cd ? systemIdentifier(cd) : null,
      pendingRestart: pending,
      pendingRestartReason: null,
      progress: this.c.progress,
    };
  }

  async bootstrap(signal: AbortSignal): Promise<boolean> { return this.changing(() => this.bootstrapNow(signal)); }

  private async bootstrapNow(signal: AbortSignal): Promise<boolean> {
    return this.bootstrapper().bootstrap(signal);
  }

  postBootstrap(signal: AbortSignal): Promise<boolean> {
    return this.bootstrapper().postBootstrap(signal);
  }

  async moveDataDirAside(): Promise<string | null> { return this.c.moveDataDirectoryAside(); }

  private lastBootstrap: Bootstrap | null = null;
  get lastError(): string | null { return this.lastBootstrap?.lastError ?? null; }
  private bootstrapper(): Bootstrap { return (this.lastBootstrap = new Bootstrap(this.c, this.bootstrapSection)); }
  async removeDataDirectory(): Promise<void> { this.c.wipeDataDirectory(); }

  async createReplica(source: FollowTarget, signal: AbortSignal, methods?: readonly string[]): Promise<boolean> { return this.changing(() => this.createReplicaNow(source, signal, methods)); }

  private async createReplicaNow(source: FollowTarget, signal: AbortSignal, methods?: readonly string[]): Promise<boolean> {
    const r = await createReplica({ pg: this.c, source: hasConnection(source) ? source : null, resolve: this.resolveReplicaMethod, signal, ...(methods ? { methods } : {}) });
    if (r.ok) {
      // Write the standby settings now so the clone can only ever start as a replica.
      this.c.config.writePostgresqlConf(this.recovery(source));
    }
    return r.ok;
  }

  async start(role: 'primary' | 'replica' | 'standby_leader', leader: FollowTarget, signal: AbortSignal): Promise<boolean> { return this.changing(() => this.startNow(role, leader, signal)); }

  private async startNow(role: 'primary' | 'replica' | 'standby_leader', leader: FollowTarget, signal: AbortSignal): Promise<boolean> {
    // A replica has no synchronous standbys: the user's own value until a promotion sets them.
    if (role !== 'primary') this.c.config.syncStandbyNames = undefined;
    const recovery = role === 'primary' ? { kind: 'none' as const } : this.recovery(leader);
    const before = this.role();
    const ok = await this.c.start({ recovery, signal });
    if (ok) {
      // A former primary (or demoted node) starting as a replica changed its role; otherwise a start.
      const changed = (before === 'primary' || before === 'demoted') && role !== 'primary';
      this.callback(changed ? 'on_role_change' : 'on_start', role);
    }
    return ok;
  }

  async stop(mode: 'fast' | 'immediate', opts: StopPortOptions = {}): Promise<boolean> {
    const cb = opts.onShutdown;
    const wasRunning = this.c.isRunning();
    const ok = await this.changing(() => this.c.stop({ mode, checkpoint: opts.checkpoint, onShutdown: cb ? (lsn) => cb(Number(lsn)) : undefined, abortAfterMs: opts.stopTimeoutMs }));
    if (ok && wasRunning && !opts.blockCallbacks) this.callback('on_stop');
    return ok;
  }

  async restart(signal: AbortSignal): Promise<boolean> {
    const ok = await this.changing(() => this.c.restart({ signal }));
    if (ok) this.callback('on_restart');
    return ok;
  }

  async reload(): Promise<void> {
    this.invalidate();
    this.c.reload();
    if (this.c.isRunning()) this.callback('on_reload');
  }

  async promote(signal: AbortSignal): Promise<boolean> { return this.changing(() => this.promoteNow(signal)); }

  private async promoteNow(signal: AbortSignal): Promise<boolean> {
    // As Patroni: on_role_change as soon as the server was told to promote, not after recovery ended.
    const ok = await this.c.promote({ signal, promoted: () => this.callback('on_role_change', 'primary') });
    if (ok) {
      // pg_rewind of the old primary needs a checkpoint on the new timeline.
      await this.checkpoint().catch(() => undefined);
    }
    return ok;
  }

  async demote(mode: DemoteMode, stopTimeoutMs?: number): Promise<void> { return this.changing(() => this.demoteNow(mode, stopTimeoutMs)); }

  private async demoteNow(mode: DemoteMode, stopTimeoutMs?: number): Promise<void> {
    await this.c.stop({ mode: mode === 'immediate' || mode === 'immediate-nolock' ? 'immediate' : 'fast', abortAfterMs: stopTimeoutMs });
  }

  /** The last follow's answer: a replica follows the same leader, with the same settings, every cycle. */
  private followSeen: { leader: FollowTarget; section: unknown; settings: unknown; recovery: RecoveryMode; json: string; applied: RecoveryMode | null; appliedJson: string | null } | null = null;

  async follow(leader: FollowTarget): Promise<'unchanged' | 'reloaded' | 'restart_needed'> {
    if (!this.c.isRunning()) return 'unchanged';
    let seen = this.followSeen;
    if (!seen || seen.leader !== leader || seen.section !== this.standbySection || seen.settings !== this.c.settings) {
      const recovery = this.recovery(leader);
      seen = { leader, section: this.standbySection, settings: this.c.settings, recovery, json: JSON.stringify(recovery), applied: null, appliedJson: null };
    }
    // What the files say now (also after new settings rewrote them): reload only on a difference.
    const applied = this.c.appliedRecovery;
    if (applied !== seen.applied) seen = { ...seen, applied, appliedJson: applied && JSON.stringify(applied) };
    this.followSeen = seen;
    const recovery = seen.recovery;
    if (applied && seen.appliedJson === seen.json) return 'unchanged';
    // PostgreSQL >= 13 applies primary_conninfo and primary_slot_name on reload.
    this.invalidate();
    this.c.reload(recovery);
    return 'reloaded';
  }

  checkDiverged(leader: FollowTarget) {
    if (!leader) return Promise.resolve('not_needed' as const);
    return checkDiverged(this.c, leader);
  }

  async rewind(leader: FollowTarget, signal: AbortSignal): Promise<boolean> { return this.changing(() => this.rewindNow(leader, signal)); }

  private async rewindNow(leader: FollowTarget, signal: AbortSignal): Promise<boolean> {
    if (!leader) return false;
    const ok = await rewind(this.c, leader, { signal });
    if (ok) this.c.config.writePostgresqlConf(this.recovery(leader));
    return ok;
  }

  async timelineHistory(): Promise<Array<[number, number, string]>> {
    const st = await this.c.status();
    const tl = st?.timeline ?? 1;
    if (tl <= 1) return [];
    const name = `pg_wal/${tl.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const rows = await this.c.query<{ content: string }>('SELECT pg_catalog.pg_read_file($1) AS content', [name]);
    return parseTimelineHistory(rows[0]?.content ?? '').map(([t, lsn, reason]) => [t, Number(lsn), reason]);
  }

  async lastLsn(): Promise<number | null> {
    const st = this.c.isRunning() ? await this.serverStatus() : null;
    if (st) return st.inRecovery ? Math.max(num(st.receiveLsn) ?? 0, num(st.replayLsn) ?? 0) : num(st.writeLsn);
    const cd = await this.c.controlData().catch(() => null);
    const cp = cd ? checkpointInfo(cd) : null;
    return cp ? Number(cp.lsn) : null;
  }

  /** Slot positions for `/status`, from this cycle's monitoring query (which reads the slots). */
  async replicationSlotLsns(): Promise<Record<string, number> | null> {
    if (!this.c.isRunning() || this.c.state !== 'running') return null;
    const st = await this.serverStatus();
    if (!st || st.serverVersion < 110000) return null;
    const lsns: Record<string, number> = {};
    for (const s of st.slots) {
      const lsn = s.type === 'logical' ? s.confirmedFlushLsn : s.restartLsn;
      if (lsn !== null) lsns[s.name] = lsn;
    }
    return lsns;
  }

  async checkpoint(): Promise<void> { await this.c.query('CHECKPOINT'); }

  applySettings(postgresql: Readonly<Record<string, unknown>>): void {
    // An adopted replica's recovery settings are only known after the first follow(), which
    // rewrites the files anyway: reloading before that would drop primary_conninfo for a moment.
    const recoveryKnown = this.c.appliedRecovery !== null || this.lastStatus?.inRecovery === false;
    this.c.applySettings(postgresql, { reload: recoveryKnown });
  }

  async syncStatus(): Promise<SyncPgStatus | null> {
    if (!this.c.isRunning() || this.c.state !== 'running') return null;
    const rows = await this.c.query<Record<string, unknown>>(SYNC_STATUS_SQL).catch(() => null);
    const row = rows?.[0];
    if (!row || row.in_recovery === true) return null;
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    const repl = Array.isArray(row.replication) ? row.replication.filter(isPlainObject) : [];
    return {
      ssn: String(row.ssn ?? ''), synchronousCommit: String(row.synchronous_commit ?? 'on'), flushLsn: n(row.flush_lsn) ?? 0,
      replication: repl.map((r) => ({
        pid: Number(r.pid), name: String(r.application_name ?? ''), state: typeof r.state === 'string' ? r.state : null,
        syncState: String(r.sync_state ?? 'async'), write: n(r.write_lsn), flush: n(r.flush_lsn), replay: n(r.replay_lsn),
      })),
    };
  }

  async setSyncStandbyNames(value: string | null | undefined): Promise<boolean> {
    if (this.c.config.syncStandbyNames === value) return false;
    this.c.config.syncStandbyNames = value;
    this.invalidate();
    if (!this.c.isRunning()) return true;
    this.c.reload();
    // Some WAL (not waiting for standbys itself) so the walsenders report where the standbys are.
    await this.c.query("DO $$ BEGIN SET LOCAL synchronous_commit = 'off'; PERFORM * FROM pg_catalog.txid_current(); END; $$").catch(() => undefined);
    return true;
  }

  onPostmasterExit(cb: () => void): void {
    this.c.on('postmaster-exit', (e) => { this.invalidate(); if (!e.expected) cb(); });
  }

  close(): Promise<void> { return this.c.close(); }
}
