/**
 * pg_rewind of a diverged former primary: make sure PGDATA was shut down cleanly (single-user crash
 * recovery if not), then rewind from the new primary with the rewind user's credentials.
 */
import type { ReplicaSource } from '../replica/contract.js';
import { commandLineGucs, formatDsn } from './config-files.js';
import type { PostgresController } from './controller.js';
import { checkpointInfo, clusterState } from './datadir.js';
import { sourceConnKwargs } from './recovery.js';

const CLEAN_STATES = new Set(['shut down', 'shut down in recovery']);

/** pg_rewind needs wal_log_hints or data checksums. */
export async function canRewind(pg: PostgresController): Promise<boolean> {
  const cd = await pg.controlData();
  return cd['wal_log_hints setting'] === 'on' || (cd['Data page checksum version'] ?? '0') !== '0';
}

/** Last checkpoint timeline and position, from pg_control. */
export async function localCheckpoint(pg: PostgresController): Promise<{ timeline: number; lsn: bigint } | null> {
  const cp = checkpointInfo(await pg.controlData());
  return cp ? { timeline: cp.timeline, lsn: cp.lsn } : null;
}

/**
 * Run crash recovery in single-user mode (archiving disabled, so `.ready` WAL is not pushed) when the
 * last shutdown was not clean. Recovery signal files are removed first, as Patroni does.
 */
export async function ensureCleanShutdown(pg: PostgresController, signal?: AbortSignal): Promise<boolean> {
  if (pg.isRunning()) throw new Error('postgres is running; stop it before a rewind');
  const state = clusterState(await pg.controlData());
  if (state && CLEAN_STATES.has(state)) return true;
  pg.logger.info({ state }, 'running single-user crash recovery for a clean shutdown before pg_rewind');
  pg.config.writePostgresqlConf({ kind: 'none' });
  const gucs = { ...commandLineGucs(pg.settings, pg.scope), archive_mode: 'on', archive_command: 'false' };
  const args = ['--single', '-D', pg.dataDir, `--config-file=${pg.config.confPath}`];
  for (const [k, v] of Object.entries(gucs)) args.push('-c', `${k}=${v}`);
  args.push('template1');
  const r = await pg.runTool('postgres', args, { signal, input: '' });
  if (r.code !== 0) {
    pg.logger.error({ code: r.code, stderr: r.stderr.slice(-2000) }, 'single-user crash recovery failed');
    return false;
  }
  const after = clusterState(await pg.controlData());
  return after !== null && CLEAN_STATES.has(after);
}

export interface RewindOptions {
  readonly signal?: AbortSignal;
  /** Database to connect to on the source (default: the source's dbname, else postgres). */
  readonly dbname?: string;
}

/**
 * pg_rewind --source-server with the rewind user (password through PGPASSFILE, never argv), keeping
 * our configuration files (pg_rewind copies the source's). Returns true on success.
 */
export async function rewind(pg: PostgresController, source: ReplicaSource, opts: RewindOptions = {}): Promise<boolean> {
  if (!(await ensureCleanShutdown(pg, opts.signal))) return false;
  const auth = pg.settings.rewind;
  const kw = sourceConnKwargs(source, auth, false);
  const dsn = formatDsn({ ...kw, dbname: opts.dbname ?? (kw.dbname || 'postgres') });
  const env = pg.writePgpass([{ host: '*', port: '*', user: auth.username, password: auth.password }]);
  pg.config.backupConfigurationFiles();
  const args = [`--target-pgdata=${pg.dataDir}`, `--source-server=${dsn}`];
  const restoreCommand = pg.settings.recoveryConf.restore_command;
  if (typeof restoreCommand === 'string' && restoreCommand) {
    // pg_rewind reads restore_command from the target's configuration (postgres -C) to fetch missing WAL.
    pg.config.writePostgresqlConf({ kind: 'standby', params: { restore_command: restoreCommand } });
    args.push('--restore-target-wal');
  }
  pg.setState('stopped');
  pg.logger.info({ source: source.name }, 'running pg_rewind');
  const r = await pg.runTool('pg_rewind', args, { env, signal: opts.signal });
  pg.config.restoreConfigurationFiles();
  if (r.code !== 0) {
    pg.logger.error({ code: r.code, stderr: r.stderr.slice(-2000) }, 'pg_rewind failed');
    return false;
  }
  return true;
}
