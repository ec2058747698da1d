/**
 * Typed reads of the validated configuration. The zod schema has already checked every known
 * section; these accessors hand out its inferred types so no code outside the config module needs
 * `as Record<string, unknown>` to read a section.
 */
import { isPlainObject } from '../util/json.js';
import type { PghaConfig } from './schema/index.js';

/** The sections of the local configuration that are mappings (DCS sections included). */
export type ConfigSectionName =
  | 'log' | 'restapi' | 'ctl' | 'citus' | 'bootstrap' | 'postgresql' | 'watchdog' | 'tags'
  | 'etcd' | 'etcd3' | 'consul' | 'zookeeper' | 'exhibitor' | 'kubernetes' | 'raft';

/** A section as the schema validated it; every key of a section is optional, so `{}` is one too. */
export type ConfigSection<K extends ConfigSectionName> = NonNullable<PghaConfig[K]>;

/**
 * The section `key` of a validated configuration, or `{}` when it is absent (or not a mapping,
 * which validation refuses; a null from an empty YAML key reads as absent, as Patroni's `.get(k) or {}`).
 */
export function configSection<K extends ConfigSectionName>(config: PghaConfig, key: K): ConfigSection<K> {
  const v: unknown = config[key];
  // The one cast: validation guarantees the shape; `{}` fits since no section key is required by the schema.
  return (isPlainObject(v) ? v : {}) as ConfigSection<K>;
}
