/**
 * Patroni's `basebackup` replica method: pg_basebackup --pgdata=<data_dir> -X stream --dbname=<dsn>
 * plus the user's options and --progress (parsed into the replica's published progress) (not-allowed ones are logged and skipped); two attempts, 5 s apart,
 * PGDATA wiped before the retry. The password comes from PGPASSFILE in the request's env.
 */
import {
  BASEBACKUP_NOT_ALLOWED, processUserOptions, runCommand, toolProgressLineHandler,
  type ReplicaCreateRequest, type ReplicaMethod, type ReplicaMethodContext,
} from '@pgha/core';

export interface BasebackupOptions {
  /** Attempts (Patroni: 2). */
  readonly attempts?: number;
  /** Pause between attempts in ms (Patroni: 5000). */
  readonly retryDelayMs?: number;
}

export function basebackupArgs(dataDir: string, connstring: string, userOptions: unknown, onError: (m: string) => void): string[] {
  const opts = userOptions === undefined || userOptions === null ? [] : processUserOptions('basebackup', userOptions, BASEBACKUP_NOT_ALLOWED, onError);
  // --progress: pg_basebackup reports done/total kB once a second; the method publishes it (`creating replica 42%`).
  const progress = opts.some((o) => o === '--progress' || o === '-P') ? [] : ['--progress'];
  return [`--pgdata=${dataDir}`, '-X', 'stream', `--dbname=${connstring}`, ...opts, ...progress];
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

export class BasebackupMethod implements ReplicaMethod {
  readonly name = 'basebackup';
  readonly noLeader = false;
  readonly keepData = false;

  constructor(private readonly ctx: ReplicaMethodContext, private readonly userOptions: unknown, private readonly opts: BasebackupOptions = {}) {}

  async create(req: ReplicaCreateRequest): Promise<number> {
    if (!req.connstring) {
      this.ctx.logger.error('basebackup needs a source member to clone from');
      return 1;
    }
    const log = this.ctx.logger.child({ method: 'basebackup' });
    const args = basebackupArgs(this.ctx.dataDir, req.connstring, this.userOptions, (m) => log.error(m));
    const attempts = this.opts.attempts ?? 2;
    let code = 1;
    for (let i = 1; i <= attempts && !req.signal.aborted; i++) {
      if (i > 1) {
        log.info({ attempt: i }, 'retrying pg_basebackup');
        await sleep(this.opts.retryDelayMs ?? 5000, req.signal);
        if (req.signal.aborted) break;
        this.ctx.wipeDataDir();
      }
      const onLine = req.progress ? toolProgressLineHandler(req.progress) : undefined;
      const r = await runCommand(this.ctx.bin('pg_basebackup'), args, { runAs: this.ctx.runAs, env: req.env, signal: req.signal, logger: log, onLine });
      code = r.code;
      if (code === 0) return 0;
      log.error({ code, attempt: i, stderr: r.stderr.trim().slice(-1000) }, 'pg_basebackup failed');
    }
    return code === 0 ? 1 : code;
  }
}
