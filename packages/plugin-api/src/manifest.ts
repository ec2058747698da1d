/**
 * Plugin manifests. A plugin package's default export is one `definePlugin({...})` value; the host
 * checks it when loaded (kind, name, apiVersion, configKey, uses, schema, factory) before use.
 */
import type { DcsContext, DcsDriver } from './dcs.js';
import type { ReplicaMethod, ReplicaMethodContext } from './replica.js';
import type { StandardSchemaV1 } from './schema.js';
import { SERVICES, type PluginServices, type ServiceName } from './services.js';
import { parseApiVersion, type ApiVersion } from './version.js';

export const PLUGIN_KINDS = ['dcs', 'replica'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

interface PluginCommon<C, S extends ServiceName> {
  /** Unique within its kind: `etcd3`, `basebackup`. */
  readonly name: string;
  /** The plugin API version this plugin was written against (a literal, e.g. '1.1'). */
  readonly apiVersion: ApiVersion;
  /** The configuration section this plugin reads (`etcd3:`, `postgresql.<configKey>`). */
  readonly configKey: string;
  readonly configSchema?: StandardSchemaV1<unknown, C>;
  readonly description?: string;
  /** Services the factory receives in `ctx.services`: exactly these. */
  readonly uses?: readonly S[];
}

export interface DcsPlugin<C = unknown, S extends ServiceName = never> extends PluginCommon<C, S> {
  readonly kind: 'dcs';
  create(ctx: DcsContext & { readonly services: Pick<PluginServices, S> }, config: C): DcsDriver | Promise<DcsDriver>;
}

export interface ReplicaPlugin<C = unknown, S extends ServiceName = never> extends PluginCommon<C, S> {
  readonly kind: 'replica';
  create(ctx: ReplicaMethodContext & { readonly services: Pick<PluginServices, S> }, config: C): ReplicaMethod | Promise<ReplicaMethod>;
}

export type PghaPlugin = DcsPlugin<any, any> | ReplicaPlugin<any, any>;

const BRAND = Symbol.for('pgha.plugin');

/** Declare a plugin. Typed by kind; the host re-checks at load time (packages may be stale or hand-written). */
export function definePlugin<C, S extends ServiceName = never>(p: DcsPlugin<C, S>): DcsPlugin<C, S>;
export function definePlugin<C, S extends ServiceName = never>(p: ReplicaPlugin<C, S>): ReplicaPlugin<C, S>;
export function definePlugin(p: PghaPlugin): PghaPlugin {
  return Object.freeze({ ...p, [BRAND]: true });
}

/**
 * Problems with a would-be manifest, apiVersion aside (see apiIncompatibility); empty when valid.
 * `uses` must name services that exist in the plugin's declared API version and suit its kind.
 */
export function manifestProblems(m: unknown): string[] {
  const problems: string[] = [];
  if (typeof m !== 'object' || m === null) return ['default export is not a plugin manifest object (use definePlugin)'];
  const p = m as Record<string, unknown>;
  const kind = p.kind as PluginKind;
  if (!PLUGIN_KINDS.includes(kind)) problems.push(`kind must be one of ${PLUGIN_KINDS.join(', ')}`);
  if (typeof p.name !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(p.name)) problems.push('name must be a lower-case identifier');
  if (typeof p.configKey !== 'string' || !p.configKey) problems.push('configKey must be a non-empty string');
  if (typeof p.create !== 'function') problems.push('create must be a function');
  if (p.configSchema !== undefined && (typeof p.configSchema !== 'object' || p.configSchema === null ||
      typeof (p.configSchema as Record<string, unknown>)['~standard'] !== 'object')) {
    problems.push('configSchema must implement Standard Schema v1');
  }
  if (p.uses !== undefined) {
    if (!Array.isArray(p.uses)) problems.push('uses must be a list of service names');
    else {
      const declared = parseApiVersion(p.apiVersion);
      for (const s of p.uses as unknown[]) {
        const svc = typeof s === 'string' && Object.hasOwn(SERVICES, s) ? SERVICES[s as ServiceName] : null;
        if (!svc) {
          problems.push(`uses: unknown service ${JSON.stringify(s)} (services: ${Object.keys(SERVICES).join(', ')})`);
          continue;
        }
        if (PLUGIN_KINDS.includes(kind) && !svc.kinds.includes(kind)) problems.push(`uses: service ${String(s)} is not available to ${kind} plugins`);
        const since = parseApiVersion(svc.since)!;
        if (declared && declared.major === since.major && declared.minor < since.minor) {
          problems.push(`uses: service ${String(s)} was added in plugin API ${svc.since}; declare apiVersion '${svc.since}' or later`);
        }
      }
    }
  }
  return problems;
}
