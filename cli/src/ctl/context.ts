/**
 * What every management verb starts from, as patronictl's `ctl` group builds it: the configuration
 * (`-c`/PATRONICTL_CONFIG_FILE, default ~/.config/patroni/patronictl.yaml when present) with
 * `-d`/DCS_URL replacing its DCS section, a DCS client in ctl mode (no lease, linearizable reads),
 * and a REST client with the ctl credentials.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  ConfigError, Dcs, PluginHost, clusterBasePath, createContainer, createLogger, serviceSource, readConfig, systemClock, validateConfig,
  type Cluster, type DcsContext, type Logger, type PghaConfig,
} from '@pgha/core';
import { applyDcsUrl } from './dcs-url.js';
import { CtlError } from './errors.js';
import { RestClient, restSettingsFromConfig } from './rest.js';

export interface GlobalOptions {
  readonly configFile?: string;
  readonly dcsUrl?: string;
  readonly insecure?: boolean;
}

/** patronictl's default: click.get_app_dir('patroni')/patronictl.yaml. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'patroni', 'patronictl.yaml');
}

/** Timings a ctl-mode DCS client uses when `/config` says nothing (Patroni's defaults). */
const CTL_TIMINGS = { ttl: 30, loopWait: 10, retryTimeout: 10 };

export class CtlContext {
  private readonly dcsByScope = new Map<string, Promise<Dcs>>();
  private restClient: RestClient | null = null;
  readonly logger: Logger;

  private constructor(
    readonly config: PghaConfig,
    private readonly baseDir: string,
    private readonly insecure: boolean,
    env: NodeJS.ProcessEnv,
  ) {
    const level = env.LOGLEVEL || env.PATRONI_LOGLEVEL || env.PATRONI_LOG_LEVEL || 'WARNING';
    this.logger = createLogger({ type: 'plain', level }, { env: {} });
  }

  /** Read options from the command (and the program before it) and the environment. */
  static fromCommand(cmd: Command, env: NodeJS.ProcessEnv = process.env): CtlContext {
    return CtlContext.load(cmd.optsWithGlobals<GlobalOptions>(), env);
  }

  static load(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CtlContext {
    const explicit = opts.configFile ?? (env.PATRONICTL_CONFIG_FILE || undefined);
    const path = explicit ?? defaultConfigPath(env);
    let usePath: string | null = path;
    if (!existsSync(path)) {
      if (explicit) throw new CtlError(`Provided config file ${path} not existing or no read rights. Check the -c/--config-file parameter`);
      usePath = null;
    }
    // Only the file's own contents and PATRONI_* variables: never PATRONI_CONFIGURATION for a ctl.
    const read = readConfig({ path: usePath, env: { ...env, PATRONI_CONFIGURATION: undefined, PGHA_CONFIGURATION: undefined } });
    const dcsUrl = opts.dcsUrl ?? (env.DCS_URL || undefined);
    const raw = dcsUrl ? applyDcsUrl(read.raw, dcsUrl) : read.raw;
    const r = validateConfig(raw, 'ctl');
    if (!r.ok) throw new ConfigError(r.issues);
    return new CtlContext(r.config, read.baseDir, !!opts.insecure, env);
  }

  /** `scope` from the configuration: the default CLUSTER_NAME. */
  get scope(): string | null {
    const s = this.config.scope;
    return s === undefined || s === null || s === '' ? null : String(s);
  }

  get namespace(): string {
    return typeof this.config.namespace === 'string' ? this.config.namespace : '/service';
  }

  /** The cluster name a verb works on: the positional argument, else `scope`. */
  clusterName(arg: string | undefined): string {
    const name = arg ?? this.scope;
    if (!name) throw new CtlError('Cluster name is required: give CLUSTER_NAME or set scope in the configuration');
    return name;
  }

  /** A ctl-mode DCS client for one cluster (scope), created once. */
  dcs(scope: string): Promise<Dcs> {
    let p = this.dcsByScope.get(scope);
    if (!p) {
      p = this.createDcs(scope);
      this.dcsByScope.set(scope, p);
      p.catch(() => this.dcsByScope.delete(scope));
    }
    return p;
  }

  private async createDcs(scope: string): Promise<Dcs> {
    const config: Record<string, unknown> = { ...this.config, scope };
    const container = createContainer({ config, logger: this.logger, clock: systemClock, http: fetch });
    const host = new PluginHost({ config, baseDir: this.baseDir, services: serviceSource(container) });
    const ctx: DcsContext = {
      name: typeof config.name === 'string' && config.name ? config.name : scope,
      scope, namespace: this.namespace, basePath: clusterBasePath(this.namespace, scope), ...CTL_TIMINGS, ctl: true,
    };
    try {
      const { driver } = await host.createDcs(ctx);
      return new Dcs(driver, CTL_TIMINGS);
    } catch (e) {
      throw new CtlError(e instanceof Error ? e.message : String(e));
    }
  }

  async cluster(scope: string): Promise<Cluster> {
    const dcs = await this.dcs(scope);
    try {
      return await dcs.getCluster();
    } catch (e) {
      throw new CtlError(e instanceof Error ? e.message : String(e));
    }
  }

  get rest(): RestClient {
    return (this.restClient ??= new RestClient(restSettingsFromConfig(this.config, this.insecure)));
  }

  async close(): Promise<void> {
    this.restClient?.close();
    const all = [...this.dcsByScope.values()];
    this.dcsByScope.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close().catch(() => undefined)));
  }
}

/** Run a verb's body with a context that is closed afterwards, whatever happens. */
export async function withContext<T>(cmd: Command, fn: (ctx: CtlContext) => Promise<T>): Promise<T> {
  const ctx = CtlContext.fromCommand(cmd);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
