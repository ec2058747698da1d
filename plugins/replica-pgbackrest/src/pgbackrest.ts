/**
 * Replica creation from a pgBackRest repository: no load on the primary, works without a leader
 * (`no_leader`), and reuses matching files with --delta when PGDATA already holds a cluster. The
 * restore writes standby.signal and pgBackRest's restore_command; pgha then adds primary_conninfo,
 * so the replica replays the archive and streams from the leader.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CustomScriptReplicaMethod, flag, methodWorksWithoutSource, pgbackrestProgressEnv, runCommand, toolProgressLineHandler,
  type ReplicaCreateRequest, type ReplicaMethod, type ReplicaMethodContext,
} from '@pgha/core';
import { restoreArgv, type PgBackRestSection } from './options.js';

function dirHasFiles(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/** pgha's own form (no `command`). */
export class PgBackRestMethod implements ReplicaMethod {
  readonly name = 'pgbackrest';
  readonly noLeader: boolean;
  /** Keep PGDATA by default: --delta only rewrites what differs from the backup. */
  readonly keepData: boolean;

  constructor(private readonly ctx: ReplicaMethodContext, private readonly section: PgBackRestSection) {
    this.noLeader = methodWorksWithoutSource('pgbackrest', section);
    this.keepData = section.keep_data === undefined ? true : flag(section.keep_data);
  }

  async create(req: ReplicaCreateRequest): Promise<number> {
    const log = this.ctx.logger.child({ method: 'pgbackrest' });
    const dataDir = this.ctx.dataDir;
    const hasCluster = existsSync(join(dataDir, 'PG_VERSION'));
    // Leftovers that are not a cluster (a half-copied directory): pgBackRest would refuse them.
    if (!hasCluster && dirHasFiles(dataDir)) {
      log.info('data directory holds no cluster: emptying it before the restore');
      this.ctx.wipeDataDir();
    }
    // A postmaster.pid left by a crashed server makes pgBackRest refuse the restore; nothing runs here (the agent stopped it).
    const { argv, delta } = restoreArgv(this.section, this.ctx.scope, dataDir, hasCluster);
    log.info({ delta }, `restoring the replica from the pgBackRest repository: ${argv.join(' ')}`);
    const [cmd, ...args] = argv;
    const onLine = req.progress ? toolProgressLineHandler(req.progress) : undefined;
    const r = await runCommand(cmd!, args, {
      runAs: this.ctx.runAs, env: { ...req.env, ...pgbackrestProgressEnv(argv) }, signal: req.signal, logger: log, onLine,
    });
    if (r.code !== 0) log.error({ code: r.code, output: `${r.stdout}${r.stderr}`.trim().split('\n').slice(-5).join('\n') }, 'pgbackrest restore failed');
    return r.code;
  }
}

/** Patroni's form: the section's `command`, run exactly as Patroni runs a custom method (with progress). */
export function createPgBackRestMethod(ctx: ReplicaMethodContext, section: PgBackRestSection): ReplicaMethod {
  if (section.command) return new CustomScriptReplicaMethod('pgbackrest', section, ctx);
  return new PgBackRestMethod(ctx, section);
}
