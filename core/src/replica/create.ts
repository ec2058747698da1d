/**
 * The `create_replica_methods` chain: methods tried in order, first exit code 0 wins. Without a
 * source only `no_leader` methods run. PGDATA is wiped before each attempt unless `keep_data`, and
 * after all methods failed. Which method a name means is the resolver's business (the plugin host
 * provides it: plugins/replica-resolver.ts), injected by the caller.
 */
import type { PostgresController } from '../postgres/controller.js';
import { formatDsn } from '../postgres/config-files.js';
import { sourceConnKwargs } from '../postgres/recovery.js';
import type { ReplicaMethod, ReplicaMethodContext, ReplicaSource, SourceConnection } from './contract.js';
import { ProgressTracker } from './progress.js';

/** Builds the method for a name and its config section; null when nothing provides it. */
export type ReplicaMethodResolver = (name: string, section: unknown, ctx: ReplicaMethodContext) => Promise<ReplicaMethod | null>;

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
  // The replication user's connection to a member; methods may ask for another member than `source` (API 1.1).
  const connect = (member: ReplicaSource): SourceConnection => {
    const repl = pg.settings.replication;
    const kw = sourceConnKwargs(member, repl, false);
    const env = pg.writePgpass([{ host: String(kw.host ?? '*'), port: String(kw.port ?? '*'), user: repl.username, password: repl.password }]);
    return { connstring: formatDsn(kw), env };
  };
  const { connstring, env } = source ? connect(source) : { connstring: '', env: {} };
  const attempts: { method: string; code: number | null; error?: string }[] = [];
  for (const name of names) {
    if (signal.aborted) break;
    const section = sections[name] ?? {};
    let method: ReplicaMethod | null;
    try {
      method = await o.resolve(name, section, ctx);
    } catch (e) {
      // A plugin refused (incompatible apiVersion, invalid section...): say why, then try the next method.
      const error = e instanceof Error ? e.message : String(e);
      pg.logger.error({ method: name }, `replica creation method ${name} unavailable: ${error}`);
      attempts.push({ method: name, code: null, error });
      continue;
    }
    if (!method) {
      const error = `no replica method ${name}: give it a command or install its plugin`;
      pg.logger.error({ method: name }, error);
      attempts.push({ method: name, code: null, error });
      continue;
    }
    if (!source && !method.noLeader) continue;
    if (!method.keepData) pg.wipeDataDirectory();
    else pg.ensureDataDirectory();
    pg.logger.info({ method: name, source: source?.name ?? null }, 'trying replica creation method');
    const progress = new ProgressTracker('creating replica', name, (p) => pg.setProgress(p), pg.logger);
    let code: number | null = null;
    try {
      code = await method.create({ source, connstring: source ? connstring : '', env, signal, progress, connect });
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
