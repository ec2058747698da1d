/**
 * Patroni's Bootstrap: initialize a new cluster with initdb or a custom script, start it, wait until
 * it runs as primary, then post_bootstrap (roles, post_bootstrap script, final pg_hba). On failure
 * PGDATA is moved aside so the HA layer can cancel the initialization and another node may try.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PostgresController } from '../postgres/controller.js';
import { chownTo, runCommand, shlexSplit, userCommandCwd } from '../postgres/exec.js';
import { pgbackrestProgressEnv, ProgressTracker, toolProgressLineHandler } from '../replica/progress.js';
import { isPlainObject } from '../util/json.js';
import { customBootstrapArgv, parseCustomBootstrap, type CustomBootstrapConfig } from './custom.js';
import { createOrUpdateRole, grantRewindFunctions } from './roles.js';
import { INITDB_NOT_ALLOWED, processUserOptions } from './user-options.js';

export interface BootstrapSettings {
  /** `initdb` or the name of a custom method section. */
  readonly method: string;
  readonly initdbOptions: unknown;
  readonly custom: CustomBootstrapConfig | null;
  /** `bootstrap.pg_hba`: appended to the initdb-made pg_hba.conf while bootstrapping. */
  readonly pgHba: readonly string[];
  /** `post_bootstrap` (or the older `post_init`) script. */
  readonly postBootstrap: string | null;
}

/** Parse the raw `bootstrap` section. A method without a `command` falls back to initdb, as Patroni does. */
export function parseBootstrapSettings(raw: Readonly<Record<string, unknown>>): BootstrapSettings {
  const method = typeof raw.method === 'string' && raw.method ? raw.method : 'initdb';
  const section = raw[method];
  const custom = method !== 'initdb' && isPlainObject(section) && 'command' in section ? parseCustomBootstrap(method, section) : null;
  const hba = raw.pg_hba;
  const script = raw.post_bootstrap ?? raw.post_init;
  return {
    method: custom ? method : 'initdb',
    initdbOptions: raw.initdb ?? [],
    custom,
    pgHba: Array.isArray(hba) ? hba.map(String) : [],
    postBootstrap: typeof script === 'string' && script.trim() ? script : null,
  };
}

class StepFailed extends Error {}

export class Bootstrap {
  readonly settings: BootstrapSettings;

  constructor(private readonly pg: PostgresController, bootstrap: Readonly<Record<string, unknown>> | BootstrapSettings) {
    this.settings = 'initdbOptions' in bootstrap ? (bootstrap as BootstrapSettings) : parseBootstrapSettings(bootstrap);
  }

  get runningCustomBootstrap(): boolean { return this.settings.custom !== null; }
  get keepExistingRecoveryConf(): boolean { return this.settings.custom?.keepExistingRecoveryConf ?? false; }

  /** initdb with the user's options, --username and a temporary --pwfile. */
  async initdb(signal?: AbortSignal): Promise<boolean> {
    const pg = this.pg;
    pg.setState('initializing new cluster');
    let dir: string | null = null;
    try {
      const opts = processUserOptions('initdb', this.settings.initdbOptions, INITDB_NOT_ALLOWED, (m) => { throw new StepFailed(m); });
      pg.ensureDataDirectory();
      const args = ['-D', pg.dataDir, ...opts, `--username=${pg.settings.superuser.username}`];
      if (pg.settings.superuser.password !== null) {
        dir = mkdtempSync(join(tmpdir(), 'pgha-initdb-'));
        chownTo(dir, pg.runAs);
        const pwfile = join(dir, 'pwfile');
        writeFileSync(pwfile, `${pg.settings.superuser.password}\n`, { mode: 0o600 });
        chownTo(pwfile, pg.runAs);
        args.push(`--pwfile=${pwfile}`);
      }
      const r = await pg.runTool('initdb', args, { signal });
      if (r.code !== 0) throw new StepFailed(`initdb exited with ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
      return true;
    } catch (e) {
      pg.logger.error({ err: String(e) }, 'initdb failed');
      pg.setState('initdb failed');
      this.lastError = e instanceof Error ? e.message : String(e);
      return false;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }

  lastError: string | null = null;

  /** Run the custom command; the exit code decides. Then set up recovery as configured. */
  async customBootstrap(signal?: AbortSignal): Promise<boolean> {
    const pg = this.pg;
    const c = this.settings.custom!;
    pg.setState('running custom bootstrap script');
    pg.ensureDataDirectory();
    const argv = customBootstrapArgv(c, pg.scope, pg.dataDir);
    const [cmd, ...args] = argv;
    pg.logger.info({ command: c.command }, 'running custom bootstrap script');
    // A restore from a backup can take hours: elapsed time always, percent when the tool prints it (pgBackRest, pg_basebackup).
    const progress = new ProgressTracker('bootstrap', c.name, (p) => pg.setProgress(p), pg.logger);
    const r = await runCommand(cmd!, args, { runAs: pg.runAs, logger: pg.logger, signal, env: pgbackrestProgressEnv(argv), onLine: toolProgressLineHandler(progress), cwd: userCommandCwd() });
    progress.finish(r.code === 0);
    if (r.code !== 0) {
      pg.setState('custom bootstrap failed');
      this.lastError = `custom bootstrap script ${c.command} exited with ${r.code}`;
      return false;
    }
    // A promote trigger left by the backup would end recovery at once.
    rmSync(join(pg.dataDir, 'promote'), { force: true });
    if (!c.recoveryConf && !c.keepExistingRecoveryConf) pg.config.removeRecoveryConf();
    return true;
  }

  /** The recovery mode of the first start after initialization. */
  private firstStartRecovery() {
    const c = this.settings.custom;
    if (c?.recoveryConf) return { kind: 'recovery', params: c.recoveryConf } as const;
    if (c?.keepExistingRecoveryConf) return { kind: 'keep' } as const;
    return { kind: 'none' } as const;
  }

  /** Initialize PGDATA, append bootstrap.pg_hba and start postgres (Patroni's bootstrap()). */
  async bootstrap(signal?: AbortSignal): Promise<boolean> {
    const ok = this.settings.custom ? await this.customBootstrap(signal) : await this.initdb(signal);
    if (!ok) return false;
    if (!this.pg.settings.pgHba) this.pg.config.appendPgHba(this.settings.pgHba);
    const started = await this.pg.start({ recovery: this.firstStartRecovery(), skipHba: this.runningCustomBootstrap });
    if (!started) this.lastError = `postgres did not start after bootstrap: ${this.pg.lastStartOutput.trim().split('\n').slice(-3).join(' | ')}`;
    return started;
  }

  /** post_bootstrap / post_init script: gets the superuser URL; the password comes from PGPASSFILE. */
  async callPostBootstrap(signal?: AbortSignal): Promise<boolean> {
    const cmd = this.settings.postBootstrap;
    if (!cmd) return true;
    const pg = this.pg;
    const su = pg.settings.superuser;
    const env = pg.writePgpass([{ host: '*', port: '*', user: su.username, password: su.password }]);
    const [bin, ...args] = shlexSplit(cmd);
    const r = await runCommand(bin!, [...args, pg.localConnectionUrl()], { runAs: pg.runAs, logger: pg.logger, env, signal, cwd: userCommandCwd() });
    if (r.code !== 0) {
      pg.logger.error({ code: r.code, cmd }, 'post_bootstrap script failed');
      this.lastError = `post_bootstrap script ${cmd} exited with ${r.code}`;
      return false;
    }
    return true;
  }

  /**
   * An immediate checkpoint before the cluster is announced (not something Patroni does). The
   * members waiting to clone start their base backups the moment it is, and pg_basebackup asks
   * for a spread checkpoint by default, which paces its writes 100 ms apart while ahead of
   * schedule: the few dozen buffers initdb and post_bootstrap left dirty held every replica's
   * backup for about a second (bench:footprint's bootstrap). Done now, theirs finds almost
   * nothing to write. Best effort: a failure only costs that second.
   */
  private async checkpointForReplicas(): Promise<void> {
    try {
      await this.pg.query('CHECKPOINT');
    } catch (e) {
      this.pg.logger.warn({ err: String(e) }, 'checkpoint after bootstrap failed');
    }
  }

  /** Superuser password, post_bootstrap script, replication and rewind roles, the configured pg_hba, then a checkpoint. */
  async postBootstrap(signal?: AbortSignal): Promise<boolean> {
    const pg = this.pg;
    const q = (sql: string) => pg.query(sql);
    const s = pg.settings;
    try {
      if (s.superuser.password !== null) await createOrUpdateRole(q, s.superuser.username, s.superuser.password, ['SUPERUSER']);
      if (!(await this.callPostBootstrap(signal))) return false;
      await createOrUpdateRole(q, s.replication.username, s.replication.password, ['REPLICATION']);
      if (s.rewind.username !== s.superuser.username) {
        await createOrUpdateRole(q, s.rewind.username, s.rewind.password, []);
        await grantRewindFunctions(q, s.rewind.username);
      }
      // Custom bootstraps ran with the restored pg_hba; now switch to pgha's (and the recovery mode becomes primary).
      pg.config.writeHbaAndIdent();
      pg.reload({ kind: 'none' });
      await this.checkpointForReplicas();
      return true;
    } catch (e) {
      this.lastError = `post_bootstrap failed: ${e instanceof Error ? e.message : String(e)}`;
      pg.logger.error({ err: String(e) }, 'post_bootstrap failed');
      return false;
    }
  }
}
