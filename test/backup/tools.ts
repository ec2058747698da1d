/**
 * Real pgBackRest and Barman for the backup suites: each gets its own config file and repository
 * (or Barman home) in a temp dir the test user owns, so tests never touch /etc, /var/lib or each
 * other. Every command runs as the unprivileged test user; background processes (barman
 * receive-wal) are stopped by PID.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type RunResult } from '@pgha/core';
import { startProc, waitFor, type Proc } from '../helpers/procs.js';
import { testUser } from '../helpers/user.js';
import { BIN_DIR, tempDir } from '../postgres/pg-helpers.js';

export function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: apt-get install ${pkg} (or run scripts/install-deps.sh)`);
}

/** Run a tool as the test user; throws with its output when it fails. */
export async function run(cmd: string, args: string[], what = `${cmd} ${args.join(' ')}`): Promise<RunResult> {
  const r = await runCommand(cmd, args, { runAs: testUser(), env: { PATH: `${BIN_DIR}:${process.env.PATH}` } });
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export interface PgBackRestRepo {
  readonly config: string;
  readonly stanza: string;
  /** archive_command for the primary. */
  readonly archiveCommand: string;
  /** restore_command (archive-get) for recovery_conf. */
  readonly restoreCommand: string;
  /** Write the config for `primary` (pg1-*), then stanza-create and check; call once the primary runs. */
  create(primary: { dataDir: string; port: number; dir: string }): Promise<void>;
  cmd(...args: string[]): Promise<RunResult>;
}

/** A pgBackRest repository in a temp dir; its commands are known before the primary exists (for archive_command). */
export function pgbackrestRepo(stanza = 'main'): PgBackRestRepo {
  requireTool('/usr/bin/pgbackrest', 'pgbackrest');
  const home = tempDir('pgbackrest');
  const config = join(home, 'pgbackrest.conf');
  const base = [`--config=${config}`, `--stanza=${stanza}`];
  const repo: PgBackRestRepo = {
    config, stanza,
    archiveCommand: `pgbackrest --config=${config} --stanza=${stanza} archive-push %p`,
    restoreCommand: `pgbackrest --config=${config} --stanza=${stanza} archive-get %f "%p"`,
    cmd: (...args: string[]) => run('pgbackrest', [...base, ...args]),
    async create(primary) {
      writeFileSync(config, [
        '[global]',
        `repo1-path=${join(home, 'repo')}`,
        `log-path=${join(home, 'log')}`,
        `lock-path=${join(home, 'lock')}`,
        `spool-path=${join(home, 'spool')}`,
        'log-level-file=off',
        'start-fast=y',
        'repo1-retention-full=2',
        '',
        `[${stanza}]`,
        `pg1-path=${primary.dataDir}`,
        `pg1-port=${primary.port}`,
        `pg1-socket-path=${primary.dir}`,
        'pg1-user=postgres',
        '',
      ].join('\n'));
      await repo.cmd('stanza-create');
      await repo.cmd('check');
    },
  };
  return repo;
}

export interface BarmanServer {
  readonly config: string;
  readonly server: string;
  readonly home: string;
  cmd(...args: string[]): Promise<RunResult>;
  /** Close the current WAL segment and wait until Barman has archived it. */
  switchWal(): Promise<void>;
  backup(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A Barman server `main` for `primary`: backup_method = postgres (pg_basebackup) and WAL by
 * streaming (`barman receive-wal` with a replication slot), all local over the primary's socket.
 */
export async function barmanServer(primary: { dir: string; port: number }, o: { streamingConninfo?: string } = {}): Promise<BarmanServer> {
  requireTool('/usr/bin/barman', 'barman');
  requireTool('/usr/bin/rsync', 'rsync');
  const home = tempDir('barman');
  const config = join(home, 'barman.conf');
  const user = process.getuid?.() === 0 ? (process.env.PGHA_TEST_USER ?? 'pgha') : (process.env.USER ?? 'pgha');
  writeFileSync(config, [
    '[barman]',
    `barman_home = ${join(home, 'home')}`,
    `barman_user = ${user}`,
    `log_file = ${join(home, 'barman.log')}`,
    'log_level = INFO',
    '',
    '[main]',
    'description = pgha test server',
    `conninfo = host=${primary.dir} port=${primary.port} user=postgres dbname=postgres`,
    `streaming_conninfo = ${o.streamingConninfo ?? `host=${primary.dir} port=${primary.port} user=postgres`}`,
    'backup_method = postgres',
    'streaming_archiver = on',
    'slot_name = barman',
    `path_prefix = ${BIN_DIR}`,
    '',
  ].join('\n'));
  const cmd = (...args: string[]) => run('barman', ['-c', config, ...args]);
  await run('mkdir', ['-p', join(home, 'home')]);
  // The slot may exist already (a permanent slot the HA agent keeps on the leader).
  await cmd('receive-wal', '--create-slot', 'main').catch((e: Error) => { if (!/already exists/.test(e.message)) throw e; });
  let receiver: Proc | null = startProc('barman', ['-c', config, 'receive-wal', 'main'], { asUser: true, env: { ...process.env, PATH: `${BIN_DIR}:${process.env.PATH}`, HOME: '/tmp' } });
  // Switching WAL before pg_receivewal streams would close a segment it never receives.
  await waitFor(() => receiver!.output().includes('starting log streaming'), 30_000, 'barman receive-wal to stream', 200).catch((e: Error) => {
    throw new Error(`${e.message}; receive-wal said: ${receiver?.output()}`);
  });
  const server: BarmanServer = {
    config, server: 'main', home, cmd,
    async switchWal() {
      await cmd('switch-wal', '--force', '--archive', '--archive-timeout', '30', 'main').catch((e: Error) => {
        throw new Error(`${e.message}\nreceive-wal: ${receiver?.output() ?? 'not running'}`);
      });
    },
    async backup() {
      await server.switchWal();
      await waitFor(async () => (await cmd('check', 'main').catch(() => null)) !== null, 60_000, `barman check main (receive-wal: ${receiver?.output()})`, 1000);
      await cmd('backup', '--wait', 'main');
      const r = await cmd('-f', 'json', 'show-backup', 'main', 'latest');
      return String((JSON.parse(r.stdout) as Record<string, { backup_id: string }>).main!.backup_id);
    },
    async stop() {
      await receiver?.stop();
      receiver = null;
    },
  };
  return server;
}
