/**
 * Replica creation with Barman: `barman recover` on this host, or a recovery operation through
 * pg-backup-api on the Barman host (which copies the backup here over ssh). Barman prints no
 * progress, so progress is the size of PGDATA against the backup's size (when known), polled.
 */
import {
  CustomScriptReplicaMethod, flag, methodWorksWithoutSource, runCommand, shlexSplit,
  type Logger, type ProgressTracker, type ReplicaCreateRequest, type ReplicaMethod, type ReplicaMethodContext, type RunAs,
} from '@pgha/core';
import { parsePatroniBarmanArgv, recoverArgv, type BarmanSection } from './options.js';
import { PgBackupApi, sleep } from './pg-backup-api.js';

/** Bytes under `dir` (du -sb as the PostgreSQL user, who owns PGDATA); null when unknown. */
export async function dirBytes(dir: string, runAs: RunAs | null): Promise<number | null> {
  const r = await runCommand('du', ['-sb', dir], { runAs, timeoutMs: 60_000 });
  const n = Number(r.stdout.split('\t')[0]);
  return r.code === 0 && Number.isFinite(n) ? n : null;
}

/** Poll PGDATA's size into the tracker until stopped; percent when the backup's size is known. */
export function pollCopiedBytes(dir: string, runAs: RunAs | null, tracker: ProgressTracker | undefined, total: () => number | null, everyMs = 3000): () => void {
  if (!tracker) return () => {};
  let stopped = false;
  void (async () => {
    while (!stopped) {
      await sleep(everyMs);
      if (stopped) break;
      const done = await dirBytes(dir, runAs);
      if (stopped || done === null) continue;
      const t = total();
      // The copy also brings WAL, so it can pass the estimate: hold at 99% until barman finishes.
      tracker.update({ bytesDone: done, bytesTotal: t, percent: t ? Math.min(99, (done / t) * 100) : null });
    }
  })();
  return () => { stopped = true; };
}

abstract class BarmanBase implements ReplicaMethod {
  readonly name = 'barman';
  readonly noLeader: boolean;
  readonly keepData: boolean;

  constructor(protected readonly ctx: ReplicaMethodContext, protected readonly section: BarmanSection) {
    this.noLeader = methodWorksWithoutSource('barman', section);
    this.keepData = flag(section.keep_data);
  }

  protected get log(): Logger { return this.ctx.logger.child({ method: 'barman' }); }
  abstract create(req: ReplicaCreateRequest): Promise<number>;
}

/** `barman recover` on this host. */
export class BarmanRecoverMethod extends BarmanBase {
  /** The backup's size from `barman show-backup` (bytes of data files), for the percentage. */
  private async backupBytes(req: ReplicaCreateRequest): Promise<number | null> {
    const s = this.section;
    const args = [...(s.config ? ['-c', s.config] : []), '-f', 'json', 'show-backup', s['barman-server']!, s['backup-id'] ?? 'latest'];
    const r = await runCommand('barman', args, { runAs: this.ctx.runAs, env: req.env, signal: req.signal, timeoutMs: 60_000 });
    try {
      const doc = JSON.parse(r.stdout) as Record<string, { base_backup_information?: { disk_usage_bytes?: number } }>;
      const n = Object.values(doc)[0]?.base_backup_information?.disk_usage_bytes;
      return typeof n === 'number' && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  async create(req: ReplicaCreateRequest): Promise<number> {
    const log = this.log;
    const total = await this.backupBytes(req);
    const argv = recoverArgv(this.section, this.ctx.dataDir);
    log.info({ backupBytes: total }, `recovering the replica with barman: ${argv.join(' ')}`);
    req.progress?.update({ bytesTotal: total, bytesDone: 0, percent: total ? 0 : null });
    const stop = pollCopiedBytes(this.ctx.dataDir, this.ctx.runAs, req.progress, () => total);
    try {
      const [cmd, ...args] = argv;
      const r = await runCommand(cmd!, args, { runAs: this.ctx.runAs, env: req.env, signal: req.signal, logger: log });
      if (r.code !== 0) log.error({ code: r.code, output: `${r.stdout}${r.stderr}`.trim().split('\n').slice(-5).join('\n') }, 'barman recover failed');
      else req.progress?.update({ percent: 100, bytesDone: await dirBytes(this.ctx.dataDir, this.ctx.runAs) });
      return r.code;
    } finally {
      stop();
    }
  }
}

export interface ApiSettings {
  readonly url: string;
  readonly server: string;
  readonly backupId: string;
  readonly sshCommand: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly retryWait: number;
  readonly maxRetries: number;
  readonly loopWait: number;
}

/** Exit codes as patroni_barman's: 0 recovered, 1 recovery failed, 2 pg-backup-api unusable. */
export const RECOVERY_DONE = 0;
export const RECOVERY_FAILED = 1;
export const HTTP_ERROR = 2;

/** Recovery through pg-backup-api: create the operation, then poll it every `loopWait` s. */
export class BarmanApiMethod extends BarmanBase {
  constructor(ctx: ReplicaMethodContext, section: BarmanSection, private readonly api: ApiSettings) {
    super(ctx, section);
  }

  async create(req: ReplicaCreateRequest): Promise<number> {
    const log = this.log;
    const a = this.api;
    const client = new PgBackupApi({ url: a.url, certFile: a.certFile, keyFile: a.keyFile, retryWait: a.retryWait, maxRetries: a.maxRetries, signal: req.signal });
    let id: string;
    try {
      await client.ensureOk();
      id = await client.createRecovery(a.server, a.backupId, a.sshCommand, this.ctx.dataDir);
    } catch (e) {
      log.error(`pg-backup-api: could not create the recovery operation: ${e instanceof Error ? e.message : String(e)}`);
      return HTTP_ERROR;
    }
    log.info({ operation: id, server: a.server, backup: a.backupId }, 'pg-backup-api: created the recovery operation');
    const stop = pollCopiedBytes(this.ctx.dataDir, this.ctx.runAs, req.progress, () => null);
    try {
      for (;;) {
        if (req.signal.aborted) return RECOVERY_FAILED;
        let status: string;
        try {
          status = await client.status(a.server, id);
        } catch (e) {
          log.error(`pg-backup-api: ${e instanceof Error ? e.message : String(e)}`);
          return HTTP_ERROR;
        }
        if (status === 'DONE') {
          log.info({ operation: id }, 'pg-backup-api: recovery operation finished successfully');
          req.progress?.update({ percent: 100 });
          return RECOVERY_DONE;
        }
        if (status === 'FAILED') {
          log.error({ operation: id }, 'pg-backup-api: recovery operation failed');
          return RECOVERY_FAILED;
        }
        log.info({ operation: id }, 'pg-backup-api: recovery operation still in progress');
        await sleep(a.loopWait * 1000, req.signal);
      }
    } finally {
      stop();
    }
  }
}

function apiSettings(o: Record<string, unknown>): ApiSettings | string {
  const str = (k: string) => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
  const num = (k: string, d: number) => {
    const v = o[k];
    if (v === undefined) return d;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 ? n : NaN;
  };
  const url = str('api-url');
  const server = str('barman-server');
  const ssh = str('ssh-command');
  if (!url) return 'api-url is required';
  if (!server) return 'barman-server is required';
  if (!ssh) return 'ssh-command is required';
  const s = { url, server, backupId: str('backup-id') ?? 'latest', sshCommand: ssh, certFile: str('cert-file'), keyFile: str('key-file'), retryWait: num('retry-wait', 2), maxRetries: num('max-retries', 5), loopWait: num('loop-wait', 10) };
  for (const k of ['retryWait', 'maxRetries', 'loopWait'] as const) if (Number.isNaN(s[k])) return `${k} must be a non-negative integer`;
  return s;
}

/** The method for a section: pgha's forms, patroni_barman's command line, or any other command as a script. */
export function createBarmanMethod(ctx: ReplicaMethodContext, section: BarmanSection): ReplicaMethod {
  if (section.command) {
    const argv = shlexSplit(section.command);
    if (argv[0]?.split('/').pop() !== 'patroni_barman') return new CustomScriptReplicaMethod('barman', section, ctx);
    // patroni_barman: options from the command line, then the section's keys (as Patroni appends them).
    const { subcommand, options } = parsePatroniBarmanArgv(argv);
    if (subcommand !== 'recover') throw new Error(`postgresql.barman.command: patroni_barman ${subcommand ?? ''} is not a replica method; use recover`);
    const merged: Record<string, unknown> = { ...options };
    for (const [k, v] of Object.entries(section)) if (!['command', 'keep_data', 'no_leader', 'no_master', 'no_params'].includes(k)) merged[k] = v;
    const api = apiSettings(merged);
    if (typeof api === 'string') throw new Error(`postgresql.barman: ${api} (patroni_barman recover)`);
    return new BarmanApiMethod(ctx, section, api);
  }
  if (section['api-url']) {
    const api = apiSettings(section);
    if (typeof api === 'string') throw new Error(`postgresql.barman: ${api}`);
    return new BarmanApiMethod(ctx, section, api);
  }
  return new BarmanRecoverMethod(ctx, section);
}
