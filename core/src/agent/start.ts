/**
 * From a configuration to a running agent: logger, plugin host and DI container, DCS driver,
 * PostgreSQL controller, agent, REST API, and a clean stop. Shared by `pgha run`, `pgha demo` and tests.
 */
import { execFileSync } from 'node:child_process';
import { createApiServer, type ApiServer } from '../api/server.js';
import { configSection, createLogger, effectiveConfig, loadConfig, type LoadedConfig } from '../config/index.js';
import { startupChecks, reloadLocalConfig } from '../config/agent-config.js';
import { clusterBasePath, type DcsContext } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { createContainer, provideService, serviceSource } from '../di.js';
import { FatalError } from '../errors.js';
import type { Logger } from '../log.js';
import { PluginHost } from '../plugins/host.js';
import { membersService } from '../plugins/members.js';
import { replicaMethodResolver } from '../plugins/replica-resolver.js';
import { PostgresController } from '../postgres/controller.js';
import { systemClock } from '../util/clock.js';
import { Agent } from './agent.js';
import { memberHttpClient, pluginFetch } from './member-http.js';
import type { HttpClient } from '../di.js';
import { ControllerPort } from './postgres-adapter.js';
import { FenceClient } from '../fence/client.js';
import { PrimaryGuard } from '../fence/guard.js';
import { KernelWatchdog, watchdogMode } from '../fence/kernel-watchdog.js';
import { fenceTiming } from '../fence/timing.js';
import { DynamicConfigCache } from './dynamic-cache.js';
import { CallbackRunner } from './callbacks.js';
import { contradictoryTagWarnings } from './tag-warnings.js';
import { createSlotsIO } from '../slots/io.js';

/** The Patroni protocol level pgha speaks; peers compare it to pick value formats. */
export const PATRONI_COMPATIBLE_VERSION = '4.0.0';

export interface StartAgentOptions {
  readonly configPath?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}

export interface RunningAgent {
  readonly agent: Agent;
  readonly api: ApiServer;
  readonly logger: Logger;
  /** Resolves when the HA loop ends (rejects with FatalError on a fatal condition). */
  readonly loop: Promise<void>;
  /** SIGTERM behaviour: stop PostgreSQL, release the leader key, stop the API, close the DCS. */
  stop(): Promise<void>;
}

/** uid/gid for PostgreSQL when we run as root (postgres refuses root): `postgresql.run_as` or PGHA_PG_USER. */
function postgresUser(config: LoadedConfig['config'], env: NodeJS.ProcessEnv): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const runAs = configSection(config, 'postgresql').run_as;
  const user = (typeof runAs === 'string' && runAs) || env.PGHA_PG_USER;
  if (!user) throw new FatalError("running as root: set postgresql.run_as (or PGHA_PG_USER) to the OS user PostgreSQL runs as, or run pgha as that user");
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

/** A refusal to start that was already logged (CRITICAL): the caller only exits non-zero. */
export class StartupRefused extends FatalError {}

/** Does anything answer on the member's REST API (Patroni's GET /liveness, 3 s, no retry)? */
async function answers(http: HttpClient, apiUrl: string): Promise<boolean> {
  try {
    const res = await http(new URL('/liveness', apiUrl), { signal: AbortSignal.timeout(3000) });
    await res.text().catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/** Patroni's logger.fatal: the CRITICAL level (pino's fatal). */
export function critical(logger: Logger, message: string): void {
  const l = logger as Logger & { fatal?: (m: string) => void };
  if (typeof l.fatal === 'function') l.fatal(message);
  else logger.error(message);
}

export async function startAgent(o: StartAgentOptions): Promise<RunningAgent> {
  const sourceEnv = o.env ?? process.env;
  // A snapshot: the PATRONI_* values read now stay available to reloads after they leave the environment.
  const env = { ...sourceEnv };
  let current: LoadedConfig | null = null;
  const load = () => (current = loadConfig({ path: o.configPath ?? null, env, mode: 'agent' }));
  const local = load();
  // As Patroni: the variables read are removed, so PostgreSQL, callbacks and scripts never see the secrets.
  for (const k of local.consumedEnv) delete sourceEnv[k];
  const config = local.config;
  const logger = o.logger ?? createLogger(config.log, { env });
  for (const w of local.warnings) logger.warn(w);
  startupChecks(local, logger);
  for (const w of contradictoryTagWarnings(config.tags)) logger.warn(w);
  const eff = effectiveConfig(config, null);
  for (const w of eff.warnings) logger.warn(w);
  // The fence must fire before the lease expires and never before a healthy leader refreshes.
  const timing = fenceTiming(eff.timings, config.watchdog);
  if (timing.warning) logger.warn(timing.warning);
  const name = String(config.name);
  const scope = String(config.scope);
  const namespace = typeof config.namespace === 'string' ? config.namespace : '/service';

  // Requests to other members go as Patroni's do (TLS without verification unless a client certificate is set).
  const http = memberHttpClient(() => (current ?? local).config);
  const container = createContainer({ config: eff.config, logger, clock: systemClock, http: pluginFetch(http) });
  const host = new PluginHost({ config, baseDir: local.baseDir, services: serviceSource(container) });
  const ctx: DcsContext = {
    name, scope, namespace, basePath: clusterBasePath(namespace, scope),
    ttl: eff.timings.ttl, loopWait: eff.timings.loopWait, retryTimeout: eff.timings.retryTimeout, ctl: false,
  };
  const { driver, section } = await host.createDcs(ctx);
  logger.info(`using the ${section} DCS`);
  const dcs = new Dcs(driver, eff.timings);
  provideService(container, 'members', membersService(() => dcs.getCluster()));

  // Refuse to start next to a live member of the same name (two agents on one PGDATA or one name):
  // like Patroni, any answer from its /liveness within 3 s means it runs; exit at once, CRITICAL.
  const existing = (await dcs.getCluster().catch(() => null))?.getMember(name, false);
  if (existing && 'apiUrl' in existing && existing.apiUrl && (await answers(http, existing.apiUrl))) {
    await dcs.close();
    const message = `Can't start; there is already a node named '${name}' running`;
    critical(logger, message);
    throw new StartupRefused(message);
  }

  const dataDir = String(configSection(eff.config, 'postgresql').data_dir);
  // PostgreSQL is started by the fence, as its child: it cannot outlive every pgha process.
  const fence = new FenceClient(dataDir, logger);
  const controller = new PostgresController({
    postgresql: configSection(eff.config, 'postgresql'), scope, name, logger, ...postgresUser(config, env),
    launch: (o) => fence.spawnPostmaster(o),
  });
  // Like Patroni: create data_dir (and its parents) so a fresh node can bootstrap or clone into it.
  controller.ensureDataDirectory();
  const callbacks = new CallbackRunner(() => configSection((current ?? local).config, 'postgresql').callbacks, scope, logger, controller.runAs);
  const port = new ControllerPort(controller, configSection(config, 'bootstrap'), replicaMethodResolver(host), callbacks);
  const wd = configSection(config, 'watchdog');
  const guard = new PrimaryGuard(
    fence,
    new KernelWatchdog(watchdogMode(config.watchdog), wd.device ?? '/dev/watchdog', timing.fireAfter, logger),
    timing, logger, () => systemClock.monotonic(),
  );
  // A previous agent may have died while primary: its fence froze PostgreSQL. Keep the primary only
  // if the lock is still ours (refresh it first), else let the fence stop it.
  const took = await guard.takeOver(async () => {
    const c = await dcs.getCluster();
    if (c.leaderName !== name || !c.leader) return null;
    const sent = systemClock.monotonic();
    return (await dcs.updateLeader(c.leader, null)) ? dcs.leaderLeaseSentAt(sent) : null;
  });
  if (took !== 'none') logger.info(`fence take-over: ${took}`);
  const reloadLocal = async () => (current = await reloadLocalConfig(current ?? local, load, logger, (r) => api.reload(r)));
  const dynamicCache = new DynamicConfigCache(dataDir, controller.runAs, logger);
  const slotsIO = createSlotsIO({
    local: () => controller.localConnectionParams(), localQuery: (sql, values) => controller.query(sql, values),
    rewind: () => controller.settings.rewind, dataDir, runAs: controller.runAs,
  });
  const agent = new Agent({ local, dcs, pg: port, logger, http, version: PATRONI_COMPATIBLE_VERSION, reloadLocal, guard, dynamicCache, slotsIO });
  const api = createApiServer(agent, configSection(config, 'restapi'), logger);
  await api.start();
  const loop = agent.start();
  let stopped: Promise<void> | null = null;
  return {
    agent, api, logger, loop,
    stop: () => (stopped ??= (async () => {
      await agent.stop();
      await api.stop();
      await port.close();
      await dcs.close();
    })()),
  };
}
