/**
 * Plugin manifests. A plugin package's default export is one `definePlugin({...})` value; the host
 * validates it when loaded (kind, name, apiVersion, configKey, schema, factory) before use.
 */
import type { DcsContext, DcsDriver } from '../dcs/driver.js';
import type { ServiceMap, ServiceName } from '../di.js';
import type { ReplicaMethod, ReplicaMethodContext } from '../replica/contract.js';
import type { StandardSchemaV1 } from './schema.js';

export const PLUGIN_API_VERSION = 1;
export const PLUGIN_KINDS = ['dcs', 'replica'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

interface PluginCommon<C, S extends ServiceName> {
  /** Unique within its kind: `etcd3`, `basebackup`. */
  readonly name: string;
  readonly apiVersion: typeof PLUGIN_API_VERSION;
  /** The configuration section this plugin reads (`etcd3:`, `postgresql.basebackup`). */
  readonly configKey: string;
  readonly configSchema?: StandardSchemaV1<unknown, C>;
  readonly description?: string;
  /** Core services the factory receives in `ctx.services` (resolved from the DI container). */
  readonly uses?: readonly S[];
}

export interface DcsPlugin<C = unknown, S extends ServiceName = ServiceName> extends PluginCommon<C, S> {
  readonly kind: 'dcs';
  create(ctx: DcsContext & { services: Pick<ServiceMap, S> }, config: C): DcsDriver | Promise<DcsDriver>;
}

export interface ReplicaPlugin<C = unknown, S extends ServiceName = ServiceName> extends PluginCommon<C, S> {
  readonly kind: 'replica';
  create(ctx: ReplicaMethodContext & { services: Pick<ServiceMap, S> }, config: C): ReplicaMethod | Promise<ReplicaMethod>;
}

export type PghaPlugin = DcsPlugin<any, any> | ReplicaPlugin<any, any>;

const BRAND = Symbol.for('pgha.plugin');

/** Declare a plugin. Typed by kind; the host re-validates at load time (packages may be stale). */
export function definePlugin<C, S extends ServiceName = never>(p: DcsPlugin<C, S>): DcsPlugin<C, S>;
export function definePlugin<C, S extends ServiceName = never>(p: ReplicaPlugin<C, S>): ReplicaPlugin<C, S>;
export function definePlugin(p: PghaPlugin): PghaPlugin {
  return Object.freeze({ ...p, [BRAND]: true });
}

/** Problems with a would-be manifest; empty when valid. */
export function manifestProblems(m: unknown): string[] {
  const problems: string[] = [];
  if (typeof m !== 'object' || m === null) return ['default export is not a plugin manifest object (use definePlugin)'];
  const p = m as Record<string, unknown>;
  if (!PLUGIN_KINDS.includes(p.kind as PluginKind)) problems.push(`kind must be one of ${PLUGIN_KINDS.join(', ')}`);
  if (typeof p.name !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(p.name)) problems.push('name must be a lower-case identifier');
  if (p.apiVersion !== PLUGIN_API_VERSION) problems.push(`apiVersion ${String(p.apiVersion)} is not supported (core speaks ${PLUGIN_API_VERSION})`);
  if (typeof p.configKey !== 'string' || !p.configKey) problems.push('configKey must be a non-empty string');
  if (typeof p.create !== 'function') problems.push('create must be a function');
  if (p.configSchema !== undefined && typeof (p.configSchema as Record<string, unknown>)['~standard'] !== 'object') {
    problems.push('configSchema must implement Standard Schema v1');
  }
  return problems;
}
