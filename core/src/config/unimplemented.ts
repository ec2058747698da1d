/**
 * Nothing accepted silently: the configuration keys pgha reads but does not act on (yet), and keys
 * it does not know at all. Reported in ONE warning at start and on every reload, by
 * `pgha validate-config`, and for the dynamic configuration (`/config`) whenever it changes.
 *
 * The rule for a known key is value-aware: a key is reported when its value asks for behaviour pgha
 * does not have (`use_unix_socket_repl: true`, a watchdog driver other than `default`). Keys with no
 * effect at all in pgha (`citus`) are reported whenever present.
 *
 * Keep this table honest: remove a row in the commit that implements the key.
 */
import { isPlainObject } from '../util/json.js';
import type { ConfigObject } from './merge.js';
import { DCS_SECTION_NAMES } from './schema/dcs.js';
import { dynamicConfigSchema } from './schema/dynamic.js';
import { postgresqlSection, dynamicPostgresqlSection, callbacksSchema } from './schema/postgresql.js';
import { bootstrapSection, ctlSection, logSection, restapiSection, watchdogSection } from './schema/sections.js';
import { pghaConfigSchema } from './schema/index.js';

type When = (value: unknown, section: ConfigObject) => boolean;
const always: When = () => true;
const truthy: When = (v) => v === true || v === 'quorum' || (typeof v === 'string' && /^(on|true|yes|1)$/i.test(v));

/** Local keys (path from the root) pgha does not act on, and when. */
const LOCAL: ReadonlyArray<readonly [string, When]> = [
  ['postgresql.use_unix_socket_repl', truthy],
  // Patroni has one real driver (`default`); `testing` is its test double.
  ['watchdog.driver', (v) => v !== 'default'],
  ['citus', always],
];

/** Dynamic keys (relative to `/config` or bootstrap.dcs) pgha does not act on, and when: none today. */
const DYNAMIC: ReadonlyArray<readonly [string, When]> = [];

const keysOf = (schema: { shape: Record<string, unknown> }) => new Set(Object.keys(schema.shape));

function get(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isPlainObject(cur) ? cur[p] : undefined;
  return cur;
}

/** A custom method section (`{command: ...}`): Patroni allows any name for those. */
const isMethodSection = (v: unknown) => isPlainObject(v) && typeof v.command === 'string';

function unknownKeys(section: unknown, known: ReadonlySet<string>, prefix: string, extra: readonly string[] = [], methods = false): string[] {
  if (!isPlainObject(section)) return [];
  return Object.keys(section)
    .filter((k) => !known.has(k) && !extra.includes(k) && !(methods && isMethodSection(section[k])))
    .map((k) => `${prefix}${k} (unknown key)`);
}

/** Unimplemented dynamic keys of one dynamic configuration, paths prefixed with `prefix`. */
export function unimplementedDynamicKeys(dynamic: unknown, prefix: string): string[] {
  if (!isPlainObject(dynamic)) return [];
  const out: string[] = [];
  for (const [key, when] of DYNAMIC) {
    if (dynamic[key] !== undefined && dynamic[key] !== null && when(dynamic[key], dynamic)) out.push(`${prefix}${key}`);
  }
  out.push(...unknownKeys(dynamic, keysOf(dynamicConfigSchema), prefix));
  out.push(...unknownKeys(dynamic.postgresql, keysOf(dynamicPostgresqlSection), `${prefix}postgresql.`,
    // local-only keys are dropped with their own warning (lint)
    ['connect_address', 'proxy_address', 'listen', 'config_dir', 'data_dir', 'pgpass', 'authentication']));
  return out;
}

/** Every key path of a local configuration pgha does not act on. */
export function unimplementedKeys(raw: ConfigObject, opts: { dcsNames?: readonly string[] } = {}): string[] {
  const out: string[] = [];
  for (const [path, when] of LOCAL) {
    const parts = path.split('.');
    const v = get(raw, parts);
    const parent = get(raw, parts.slice(0, -1));
    if (v !== undefined && v !== null && when(v, isPlainObject(parent) ? parent : raw)) out.push(path);
  }
  const dcsNames = [...DCS_SECTION_NAMES, ...(opts.dcsNames ?? [])];
  // With plugins loaded, a top-level section may be a plugin's (its DCS section): said so, not asserted unknown.
  const plugins = Array.isArray(raw.plugins) ? raw.plugins.length > 0 : typeof raw.plugins === 'string' && raw.plugins.trim() !== '';
  out.push(...unknownKeys(raw, keysOf(pghaConfigSchema), '', dcsNames).map((k) => (plugins ? k.replace('(unknown key)', '(unknown key, unless a plugin reads it)') : k)));
  out.push(...unknownKeys(raw.log, keysOf(logSection), 'log.'));
  out.push(...unknownKeys(raw.restapi, keysOf(restapiSection), 'restapi.'));
  out.push(...unknownKeys(raw.ctl, keysOf(ctlSection), 'ctl.'));
  out.push(...unknownKeys(raw.watchdog, keysOf(watchdogSection), 'watchdog.'));
  const methods = get(raw, ['postgresql', 'create_replica_methods']);
  out.push(...unknownKeys(raw.postgresql, keysOf(postgresqlSection), 'postgresql.',
    // method sections named by create_replica_methods; the pre-1.0 layout of authentication
    [...(Array.isArray(methods) ? methods.filter((m): m is string => typeof m === 'string') : []), 'replication', 'superuser'], true));
  out.push(...unknownKeys(get(raw, ['postgresql', 'callbacks']), keysOf(callbacksSchema), 'postgresql.callbacks.'));
  const method = get(raw, ['bootstrap', 'method']);
  out.push(...unknownKeys(raw.bootstrap, keysOf(bootstrapSection), 'bootstrap.', typeof method === 'string' ? [method] : [], true));
  out.push(...unimplementedDynamicKeys(get(raw, ['bootstrap', 'dcs']), 'bootstrap.dcs.'));
  return out;
}

/** The one warning naming every such key, or null when there is none. */
export function unimplementedWarning(paths: readonly string[], source = 'configuration'): string | null {
  if (!paths.length) return null;
  return `${source}: pgha does not act on these keys (yet); they are ignored: ${paths.join(', ')}`;
}
