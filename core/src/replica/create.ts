/**
 * The `create_replica_methods` chain: methods tried in order, first exit code 0 wins. Without a
 * source only `no_leader` methods run. PGDATA is wiped before each attempt unless `keep_data`, and
 * after all methods failed. Method names with a `command` run as scripts; others are replica plugins.
 */
import type { DependencyContainer } from 'tsyringe';
import { resolveServices } from '../di.js';
import type { PluginHost } from '../plugins/host.js';
import type { PostgresController } from '../postgres/controller.js';
import { formatDsn } from '../postgres/config-files.js';
import { sourceConnKwargs } from '../postgres/recovery.js';
import { isPlainObject } from '../util/json.js';
import type { ReplicaMethod, ReplicaMethodContext, ReplicaSource } from './contract.js';
import { CustomScriptReplicaMethod, methodWorksWithoutSource } from './custom-method.js';
import { ProgressTracker } from './progress.js';

/** Builds the method for a name and its config section; null when nothing provides it. */
export type ReplicaMethodResolver = (name: string, section: unknown, ctx: ReplicaMethodContext) => Promise<ReplicaMethod | null>;

/**
 * Scripts for sections with a `command`, else the replica plugin of that name (section validated by
 * its schema). An installed plugin that takes commands (pgbackrest, barman) gets the section even
 * with a `command`: it runs it exactly as the script would, and adds progress reporting.
 */
export function replicaMethodResolver(host: PluginHost | null, container?: DependencyContainer): ReplicaMethodResolver {
  return async (name, raw, ctx) => {
    // A plugin's section may be a list (basebackup: [verbose, {max-rate: 100M}]); scripts need a dict.
    const section = isPlainObject(raw) ? raw : {};
    const hasCommand = typeof section.command === 'string' && section.command !== '';
    const ref = host && (!hasCommand || COMMAND_PLUGINS.has(name)) ? await host.find('replica', name) : null;
    if (hasCommand && !ref?.installed) return new CustomScriptReplicaMethod(name, section, ctx);
    const plugin = ref ? await host!.replicaPlugin(name) : null;
    if (!plugin) return null;
    const cfg = await host!.validateSection(plugin, raw ?? {}, `postgresql.${name}`);
    if (plugin.uses?.length && !container) throw new Error(`replica plugin ${name} needs services (${plugin.uses.join(', ')}) but no container was given`);
    const services = container ? resolveServices(container, plugin.uses ?? []) : {};
    const method = await plugin.create({ ...ctx, services } as Parameters<typeof plugin.create>[0], cfg);
    // A plugin method may still be flagged no_leader in its section (never basebackup).
    return method.noLeader || !methodWorksWithoutSource(name, section) ? method : { ...method, noLeader: true, create: method.create.bind(method) };
  };
}

/** Replica plugins whose section may carry a Patroni-style `command` (they run it themselves). */
export const COMMAND_PLUGINS: ReadonlySet<string> = new Set(['pgbackrest', 'barman']);

export interface CreateReplicaOptions {
  readonly pg: PostgresController;
  /** The clone source (Cluster.getCloneMember), or null. */
  readonly source: ReplicaSource | null;
  readonly resolve: ReplicaMethodResolver;
  /** Method names (default: postgresql.create_replica_methods, else ['basebackup']). */
  readonly methods?: readonly string[];
  /** Method sections (default: the same-named keys of the postgresql section). */
  readonly sections?: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
}

export interface CreateReplicaResult {
  readonly ok: boolean;
  /** The method that succeeded. */
  readonly method: string | null;
  readonly attempts: ReadonlyArray<{ method: string; code: number | null; error?: string }>;
}

export function replicaMethodContext(pg: PostgresController): ReplicaMethodContext {
  return {
    scope: pg.scope, name: pg.name, dataDir: pg.dataDir, binDir: pg.settings.binDir,
    bin: (tool: string) => pg.bin(tool as Parameters<PostgresController['bin']>[0]) ?? tool,
    runAs: pg.runAs, wipeDataDir: () => pg.wipeDataDirectory(), logger: pg.logger,
  };
}

export async function createReplica(o: CreateReplicaOptions): Promise<CreateReplicaResult> {
  const { pg, source } = o;
  const signal = o.signal ?? new AbortController().signal;
  const sections = o.sections ?? pg.settings.raw;
  const names = o.methods ?? pg.settings.createReplicaMethods;
  const ctx = replicaMethodContext(pg);
  pg.setState('creating replica');
  let connstring = '';
  let env: Record<string, string> = {};
  if (source) {
    const repl = pg.settings.replication;
    const kw = sourceConnKwargs(source, repl, false);
    env = pg.writePgpass([{ host: String(kw.host ?? '*'), port: String(kw.port ?? '*'), user: repl.username, password: repl.password }]);
    connstring = formatDsn(kw);
  }
  const attempts: { method: string; code: number | null; error?: string }[] = [];
  for (const name of names) {
    if (signal.aborted) break;
    const section = sections[name] ?? {};
    let method: ReplicaMethod | null;
    try {
      method = await o.resolve(name, section, ctx);
    } catch (e) {
      attempts.push({ method: name, code: null, error: e instanceof Error ? e.message : String(e) });
      continue;
    }
    if (!method) {
      attempts.push({ method: name, code: null, error: `no replica method ${name}: give it a command or install its plugin` });
      continue;
    }
    if (!source && !method.noLeader) continue;
    if (!method.keepData) pg.wipeDataDirectory();
    else pg.ensureDataDirectory();
    pg.logger.info({ method: name, source: source?.name ?? null }, 'trying replica creation method');
    const progress = new ProgressTracker('creating replica', name, (p) => pg.setProgress(p), pg.logger);
    let code: number | null = null;
    try {
      code = await method.create({ source, connstring: source ? connstring : '', env, signal, progress });
      attempts.push({ method: name, code });
      if (code === 0) return { ok: true, method: name, attempts };
      pg.logger.warn({ method: name, code }, 'replica creation method failed');
    } catch (e) {
      attempts.push({ method: name, code: null, error: e instanceof Error ? e.message : String(e) });
    } finally {
      progress.finish(code === 0);
    }
  }
  pg.wipeDataDirectory();
  pg.setState('stopped');
  return { ok: false, method: null, attempts };
}
