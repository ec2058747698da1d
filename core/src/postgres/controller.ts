/**
 * The PostgreSQL controller the HA layer drives: start/stop/restart/reload/promote/demote, data
 * directory checks, recovery configuration, monitoring and a `postmaster-exit` event raised the
 * moment the postmaster dies. The agent runs the long ones (bootstrap, clone, rewind) through its
 * LongActionRunner, whose AbortSignal reaches the child processes.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { ReplicaSource } from '../replica/contract.js';
import type { ProgressReport } from '../replica/progress.js';
import { availableGucs, knownParameters } from './available-gucs.js';
import { beforeStop, prePromote } from './hooks.js';
import { commandLineGucs, ConfigFiles, writePgpass, type PgpassEntry, type RecoveryMode } from './config-files.js';
import * as dd from './datadir.js';
import { killPostmasterTree } from './processes.js';
import { runCommand, shlexSplit, userCommandCwd, type RunAs, type RunResult } from './exec.js';
import { LocalConnection, parseStatus, MONITOR_QUERY, PendingSettings, type ConnectionParams, type ServerStatus } from './monitor.js';
import { isPlainObject } from '../util/json.js';
import {
  adoptPostmaster, runningPostmaster, readPostmasterPid, signalPostmaster, spawnPostmaster,
  type ShutdownMode, type WatchedPostmaster,
} from './postmaster.js';
import { standbyRecovery, type FollowOptions } from './recovery.js';
import type {
  PostgresControllerOptions, PostmasterLauncher, PostgresState, PostmasterExitEvent, StartOptions, StopOptions,
} from './controller-types.js';
import { exportKrbsrvname, parsePostgresSettings, type BinName, type PostgresSettings } from './settings.js';

const isSettings = (v: unknown): v is PostgresSettings => typeof v === 'object' && v !== null && 'binName' in v && 'dataDir' in v;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { PrePromoteFailed } from './hooks.js';

export class PostgresController extends EventEmitter<{ 'postmaster-exit': [PostmasterExitEvent]; state: [PostgresState] }> {
  settings: PostgresSettings;
  readonly scope: string;
  readonly name: string;
  readonly runAs: RunAs | null;
  readonly logger: Logger;
  config: ConfigFiles;
  private _state: PostgresState = 'stopped';
  private watched: WatchedPostmaster | null = null;
  private stopping = false;
  private recovery: RecoveryMode = { kind: 'none' };
  /** Recovery settings were written by start/reload/promote (an adopted server's are unknown until then). */
  private recoveryWritten = false;
  private startedGucs: Record<string, string> | null = null;
  private readonly conn: LocalConnection;
  private readonly settingsPending: PendingSettings;
  private readonly launch: PostmasterLauncher;

  constructor(o: PostgresControllerOptions) {
    super();
    this.settings = isSettings(o.postgresql) ? o.postgresql : parsePostgresSettings(o.postgresql);
    exportKrbsrvname(this.settings);
    this.scope = o.scope;
    this.name = o.name;
    this.runAs = o.uid !== undefined && o.gid !== undefined ? { uid: o.uid, gid: o.gid } : null;
    if (!this.runAs && process.getuid?.() === 0) throw new Error('running as root: pass uid/gid of the PostgreSQL OS user');
    this.logger = (o.logger ?? silentLogger).child({ component: 'postgres' });
    this.config = this.configFiles();
    this.config.syncStandbyNames = this.config.writtenSyncStandbyNames();
    // A backend exits as soon as its postmaster dies: the connection's end is the first sign of a
    // crash. The postmaster may still be exiting then: look again shortly after.
    this.conn = new LocalConnection(() => this.localConnectionParams(), 5000, () => {
      for (const ms of [0, 50, 200, 500]) setTimeout(() => this.watched?.probe(), ms).unref();
    });
    this.settingsPending = new PendingSettings((q) => this.conn.query(q));
    this.launch = o.launch ?? ((so) => Promise.resolve(spawnPostmaster(so)));
    const pf = runningPostmaster(this.settings.dataDir);
    if (pf) this.watch(adoptPostmaster(pf.pid), 'running');
  }

  /**
   * New `postgresql` settings (the dynamic configuration changed): rewrite the configuration files
   * and reload. GUCs that need a restart show up as pending restart.
   */
  applySettings(postgresql: Readonly<Record<string, unknown>>, opts: { reload?: boolean } = {}): void {
    this.settings = parsePostgresSettings(postgresql);
    exportKrbsrvname(this.settings);
    const syncNames = this.config.syncStandbyNames;
    this.config = this.configFiles();
    this.config.syncStandbyNames = syncNames;
    if (opts.reload !== false && this.isRunning()) this.reload();
  }

  /** Parameters the installed server does not know are dropped with Patroni's warning (once each). */
  private configFiles(): ConfigFiles {
    const warn = (m: string) => { if (!this.warned.has(m)) this.logger.warn(m); this.warned.add(m); };
    return new ConfigFiles(this.settings, this.runAs, (p) => knownParameters(p, availableGucs(this.bin('postgres'), this.runAs), warn));
  }
  private readonly warned = new Set<string>();

  get state(): PostgresState { return this._state; }
  /** The recovery settings last written to the configuration files; null until written once. */
  get appliedRecovery(): RecoveryMode | null { return this.recoveryWritten ? this.recovery : null; }
  setState(s: PostgresState): void {
    if (s === this._state) return;
    this._state = s;
    this._progress = null;
    this.emit('state', s);
  }

  private _progress: ProgressReport | null = null;
  /** Progress of the restore or clone running now (null when nothing reports any). */
  get progress(): ProgressReport | null { return this._progress; }
  setProgress(p: ProgressReport | null): void { this._progress = p; }

  get dataDir(): string { return this.settings.dataDir; }
  bin(name: BinName): string { return join(this.settings.binDir, this.settings.binName[name]); }

  /** Run a PostgreSQL tool from bin_dir as the PostgreSQL user. */
  runTool(name: BinName, args: readonly string[], opts: { env?: Record<string, string>; signal?: AbortSignal; input?: string } = {}): Promise<RunResult> {
    return runCommand(this.bin(name), args, { runAs: this.runAs, logger: this.logger, ...opts });
  }

  // ---- data directory -------------------------------------------------------------------
  dataDirectoryEmpty(): boolean { return dd.dataDirectoryEmpty(this.dataDir); }
  dataDirectoryValid(): boolean { return dd.dataDirectoryValid(this.dataDir); }
  controlData(): Promise<dd.ControlData> { return dd.controlData(this.bin('pg_controldata'), this.dataDir, this.runAs); }
  async systemIdentifier(): Promise<string | null> { return dd.systemIdentifier(await this.controlData()); }
  /** Empty PGDATA (kept as a directory owned by the PostgreSQL user). */
  wipeDataDirectory(): void { dd.wipeDataDirectory(this.dataDir, this.runAs); }
  ensureDataDirectory(): void { dd.ensureDataDirectory(this.dataDir, this.runAs); }
  moveDataDirectoryAside(): string | null { return dd.moveDataDirectoryAside(this.dataDir); }

  // ---- connections ----------------------------------------------------------------------
  /** How we reach the local server: the first unix socket directory when use_unix_socket, else the first listen host. */
  localConnectionParams(): ConnectionParams {
    const s = this.settings;
    const sockets = String(s.parameters.unix_socket_directories ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    let host = s.listenAddresses.split(',')[0]!.trim();
    if (s.useUnixSocket && sockets.length) host = sockets[0]!;
    else if (host === '*' || host === '0.0.0.0' || host === '') host = '127.0.0.1';
    else if (host === '::') host = '::1';
    return { host, port: s.port, user: s.superuser.username, password: s.superuser.password, database: 'postgres', extra: s.superuser.extra };
  }

  /** Superuser connection URL without the password (post_bootstrap scripts get PGPASSFILE). */
  localConnectionUrl(): string {
    const p = this.localConnectionParams();
    const host = p.host.startsWith('/') ? '' : p.host.includes(':') ? `[${p.host}]` : p.host;
    const q = p.host.startsWith('/') ? `?host=${encodeURIComponent(p.host)}` : '';
    return `postgres://${encodeURIComponent(p.user)}@${host}:${p.port}/${p.database}${q}`;
  }

  /** Write the pgpass file (postgresql.pgpass) and return the env pointing to it. */
  writePgpass(entries: readonly PgpassEntry[]): Record<string, string> {
    writePgpass(this.settings.pgpass, entries, this.runAs);
    return { PGPASSFILE: this.settings.pgpass };
  }

  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]> {
    return this.conn.query<R>(sql, values);
  }

  /** Role, timeline, LSNs, replication state and pg_stat_replication; null when the server does not answer. */
  async status(): Promise<ServerStatus | null> {
    try {
      const row = (await this.conn.query(MONITOR_QUERY))[0]?.status;
      if (!isPlainObject(row)) return null;
      const loadTime = typeof row.conf_load_time === 'string' ? row.conf_load_time : null;
      return parseStatus(row, await this.settingsPending.pending(loadTime));
    } catch (e) {
      this.logger.debug({ err: String(e) }, 'monitoring query failed');
      return null;
    }
  }

  /** A setting changed that needs a restart: pg_settings.pending_restart (from `status`) or a command-line GUC differs. */
  pendingRestart(status: ServerStatus): boolean {
    if (status.pendingRestart) return true;
    const running = this.startedGucs ?? this.gucsFromPostmasterOpts();
    if (this.wanted?.from !== this.settings) this.wanted = { from: this.settings, gucs: Object.entries(commandLineGucs(this.settings, this.scope)) };
    return this.wanted.gucs.some(([k, v]) => running[k] !== undefined && running[k] !== v);
  }

  /** The command-line GUCs of the current settings object (asked every cycle, changed by `apply` only). */
  private wanted: { from: PostgresSettings; gucs: Array<[string, string]> } | null = null;

  private gucsFromPostmasterOpts(): Record<string, string> {
    const out: Record<string, string> = {};
    try {
      for (const a of shlexSplit(readFileSync(join(this.dataDir, 'postmaster.opts'), 'utf8'))) {
        const m = /^--([^=]+)=(.*)$/.exec(a);
        if (m) out[m[1]!] = m[2]!;
      }
    } catch { /* no opts file */ }
    return out;
  }

  // ---- process lifecycle ----------------------------------------------------------------
  postmasterPid(): number | null { return this.watched?.pid ?? runningPostmaster(this.dataDir)?.pid ?? null; }
  isRunning(): boolean { return this.postmasterPid() !== null; }

  private watch(w: WatchedPostmaster, state: PostgresState): void {
    this.watched = w;
    this.setState(state);
    void w.exited.then((e) => {
      if (this.watched !== w) return;
      this.watched = null;
      const expected = this.stopping;
      void this.conn.close();
      if (!expected) {
        this.logger.warn({ pid: e.pid, code: e.code, signal: e.signal }, 'postmaster exited unexpectedly');
        this.setState('crashed');
      }
      this.emit('postmaster-exit', { ...e, expected });
    });
  }

  /** Write configuration files and start postgres; resolves true once it accepts connections. */
  async start(opts: StartOptions = {}): Promise<boolean> {
    if (this.isRunning()) return true;
    if (!this.dataDirectoryValid()) throw new Error(`${this.dataDir} is not a valid PostgreSQL data directory`);
    if (opts.recovery) this.recovery = opts.recovery;
    this.config.writePostgresqlConf(this.recovery);
    this.recoveryWritten = true;
    if (!opts.skipHba) this.config.writeHbaAndIdent();
    const gucs = commandLineGucs(this.settings, this.scope);
    this.stopping = false;
    this.startedGucs = gucs;
    const w = await this.launch({
      postgres: this.bin('postgres'), dataDir: this.dataDir, configFile: this.config.confPath, gucs,
      runAs: this.runAs, logFile: join(this.dataDir, 'pgha.postmaster.log'),
    });
    this.logger.info({ pid: w.pid, recovery: this.recovery.kind }, 'postmaster started');
    this.watch(w, 'starting');
    const ok = await this.waitReady(w, opts.timeoutMs ?? this.settings.pgCtlTimeout * 1000, opts.signal);
    if (ok) this.setState('running');
    else {
      if (this.watched !== w) this.setState('start failed');
      this.lastStartOutput = this.postmasterLogTail();
      this.logger.error({ log: this.lastStartOutput }, 'postgres did not start');
    }
    return ok;
  }

  /** Tail of the server output of the last failed start (for error reports). */
  lastStartOutput = '';

  private postmasterLogTail(): string {
    try {
      return readFileSync(join(this.dataDir, 'pgha.postmaster.log'), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  }

  /** Wait until postmaster.pid says ready/standby; false when the postmaster dies or time runs out. */
  private async waitReady(w: WatchedPostmaster, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    let dead = false;
    void w.exited.then(() => { dead = true; });
    const deadline = Date.now() + timeoutMs;
    while (!dead && Date.now() < deadline && !signal?.aborted) {
      w.probe();
      const pf = readPostmasterPid(this.dataDir);
      if (pf?.pid === w.pid && (pf.status === 'ready' || pf.status === 'standby')) return true;
      await sleep(50);
    }
    return false;
  }

  /** Stop postgres (fast by default); true once the postmaster is gone. */
  async stop(opts: StopOptions = {}): Promise<boolean> {
    let mode: ShutdownMode = opts.mode ?? 'fast';
    const pid = this.postmasterPid();
    if (pid === null) {
      this.setState('stopped');
      return true;
    }
    const w = this.watched ?? adoptPostmaster(pid);
    if (!this.watched) this.watch(w, 'running');
    this.stopping = true;
    this.setState('stopping');
    if (opts.checkpoint && mode !== 'immediate') {
      await this.query('CHECKPOINT').catch((e) => this.logger.warn({ err: String(e) }, 'checkpoint before shutdown failed'));
    }
    await beforeStop(this.settings.beforeStop, { runAs: this.runAs, logger: this.logger });
    await this.conn.close();
    let gone = false;
    void w.exited.then(() => { gone = true; });
    signalPostmaster(pid, mode);
    this.logger.info({ pid, mode }, 'stopping postgres');
    const abortAfter = opts.abortAfterMs && opts.abortAfterMs > 0 ? opts.abortAfterMs : null;
    let deadline = Date.now() + (abortAfter ?? opts.timeoutMs ?? this.settings.pgCtlTimeout * 1000);
    let killed = false;
    let shutdownCalled = false;
    const callShutdown = async () => {
      const cd = await this.controlData().catch(() => null);
      const cp = cd && dd.clusterState(cd) === 'shut down' ? dd.checkpointInfo(cd) : null;
      if (!cp) return;
      shutdownCalled = true;
      await opts.onShutdown!(cp.lsn, cp.redoLsn);
    };
    while (!gone) {
      if (opts.onShutdown && !shutdownCalled && mode !== 'immediate') await callShutdown();
      if (Date.now() > deadline) {
        if (abortAfter && mode === 'immediate' && !killed) {
          // primary_stop_timeout, as Patroni: an immediate stop that hangs too gets SIGKILL.
          this.logger.warn({ pid }, 'Sending SIGKILL to Postmaster and its children');
          killPostmasterTree(pid);
          killed = true;
          deadline = Date.now() + 10_000;
          continue;
        }
        if (opts.escalate === false || mode === 'immediate') break;
        this.logger.warn({ pid }, abortAfter ? 'Timeout during postmaster stop, aborting Postgres.' : `postgres did not stop in ${mode} mode in time; escalating to immediate`);
        mode = 'immediate';
        signalPostmaster(pid, mode);
        deadline = Date.now() + (abortAfter ?? 10_000);
      }
      await Promise.race([w.exited, sleep(opts.onShutdown && !shutdownCalled ? 20 : 100)]);
      w.probe();
    }
    if (!gone) {
      this.setState('stop failed');
      return false;
    }
    if (opts.onShutdown && !shutdownCalled && mode !== 'immediate') await callShutdown();
    this.setState('stopped');
    return true;
  }

  async restart(opts: StartOptions & { mode?: ShutdownMode } = {}): Promise<boolean> {
    this.setState('restarting');
    if (!(await this.stop({ mode: opts.mode ?? 'fast', timeoutMs: opts.timeoutMs }))) {
      this.setState('restart failed');
      return false;
    }
    const ok = await this.start(opts);
    if (!ok) this.setState('restart failed');
    return ok;
  }

  /** Rewrite configuration files (optionally with new recovery settings) and SIGHUP the postmaster. */
  reload(recovery?: RecoveryMode): boolean {
    if (recovery) {
      this.recovery = recovery;
      this.recoveryWritten = true;
    }
    this.config.writePostgresqlConf(this.recovery);
    this.config.writeHbaAndIdent();
    const pid = this.postmasterPid();
    if (pid === null) return false;
    try {
      process.kill(pid, 'SIGHUP');
      return true;
    } catch {
      return false;
    }
  }

  /** pre_promote (non-zero: PrePromoteFailed; cancelled: false), promote, wait out of recovery; `promoted` once signalled. */
  async promote(opts: { timeoutMs?: number; signal?: AbortSignal; promoted?: () => void } = {}): Promise<boolean> {
    const timeoutMs = opts.timeoutMs ?? this.settings.pgCtlTimeout * 1000;
    if (!(await prePromote(this.settings.prePromote, { runAs: this.runAs, logger: this.logger, signal: opts.signal }))) return false;
    // -W: signal and return; pg_ctl's own wait polls at 10 Hz, we poll faster (every write pause counts).
    if (opts.signal?.aborted) return false;
    const r = await this.runTool('pg_ctl', ['promote', '-D', this.dataDir, '-W'], { signal: opts.signal });
    if (r.code !== 0) {
      this.logger.error({ out: r.stderr.trim() }, 'pg_ctl promote failed');
      return false;
    }
    this.recovery = { kind: 'none' };
    this.recoveryWritten = true;
    opts.promoted?.();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !opts.signal?.aborted) {
      const rows = await this.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r').catch(() => null);
      if (rows?.[0]?.r === false) return true;
      await sleep(10);
    }
    return false;
  }

  /** The recovery settings for following `source` (null = no leader). */
  standbyRecovery(source: ReplicaSource | null, opts?: FollowOptions): RecoveryMode {
    return standbyRecovery(this.settings, this.name, source, opts);
  }

  /** Stop watching and close the SQL connection; postgres itself keeps running. */
  async close(): Promise<void> {
    this.watched?.stopWatching();
    this.watched = null;
    await this.conn.close();
  }
}
