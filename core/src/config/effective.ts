/**
 * Patroni's effective configuration: built-in defaults < dynamic (`/config`, or bootstrap.dcs until
 * `/config` exists) < local (YAML with the environment already patched in).
 *
 * Exceptions, as in Patroni:
 *  - ttl, loop_wait, retry_timeout, standby_cluster and the other cluster-wide keys come from the
 *    dynamic configuration only (Patroni's GlobalConfig reads them from `/config`; local values are
 *    ignored, and lint warns about them);
 *  - in `postgresql`, local keys override dynamic ones except `use_slots` and the CMDLINE GUCs, which
 *    come from the dynamic configuration only;
 *  - dynamic `postgresql` may not set connect_address, proxy_address, listen, config_dir, data_dir,
 *    pgpass, authentication (dropped).
 */
import { fitFenceRule } from '../fence/timing.js';
import { isPlainObject } from '../util/json.js';
import { clearMalformed, reportMalformed } from '../model/malformed.js';
import { deepClone, type ConfigObject } from './merge.js';
import { defaultParameters, processParameters, setParameter } from './postgresql-params.js';
import { dynamicConfigSchema } from './schema/dynamic.js';
import { configErrorMap, joinPath } from './schema/issues.js';
import type { PghaConfig } from './schema/index.js';
import { adjustTimings, type Timings } from './timings.js';
import { unimplementedDynamicKeys, unimplementedWarning } from './unimplemented.js';

export const LOCAL_ONLY_POSTGRESQL_KEYS = ['connect_address', 'proxy_address', 'listen', 'config_dir', 'data_dir', 'pgpass', 'authentication'] as const;
export const STANDBY_CLUSTER_KEYS = ['create_replica_methods', 'host', 'port', 'primary_slot_name', 'restore_command', 'archive_cleanup_command', 'recovery_min_apply_delay'] as const;

/** Keys whose value is cluster-wide: read from the dynamic configuration only. */
export const CLUSTER_WIDE_KEYS = [
  'ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'maximum_lag_on_syncnode', 'max_timelines_history',
  'primary_start_timeout', 'master_start_timeout', 'primary_stop_timeout', 'master_stop_timeout', 'primary_race_backoff',
  'member_slots_ttl', 'synchronous_mode', 'synchronous_mode_strict', 'synchronous_node_count', 'failsafe_mode',
  'check_timeline', 'pause', 'standby_cluster', 'slots', 'ignore_slots',
] as const;

/** Typed cluster-wide settings with Patroni's defaults; what the HA engine reads every cycle. */
export interface ClusterSettings extends Timings {
  readonly maximumLagOnFailover: number;
  readonly maximumLagOnSyncnode: number;
  readonly maxTimelinesHistory: number;
  readonly primaryStartTimeout: number;
  readonly primaryStopTimeout: number;
  readonly primaryRaceBackoff: number;
  /** Seconds to keep slots of absent members (Patroni 4 default 30min). */
  readonly memberSlotsTtl: number;
  readonly synchronousMode: boolean | 'quorum';
  readonly synchronousModeStrict: boolean;
  readonly synchronousNodeCount: number;
  readonly failsafeMode: boolean;
  readonly checkTimeline: boolean;
  readonly pause: boolean;
  readonly standbyCluster: Readonly<Record<string, unknown>> | null;
  readonly slots: Readonly<Record<string, unknown>>;
  readonly ignoreSlots: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly useSlots: boolean;
}

export interface EffectiveConfig {
  /** The merged configuration (local sections, dynamic-only keys from the dynamic source). */
  readonly config: PghaConfig & ConfigObject;
  readonly cluster: ClusterSettings;
  readonly timings: Timings;
  /** The dynamic configuration actually used (validated, timings adjusted): cache it as patroni.dynamic.json. */
  readonly dynamic: ConfigObject;
  readonly dynamicSource: 'dcs' | 'bootstrap' | 'none';
  readonly warnings: readonly string[];
}

/** Drop keys of a dynamic configuration that fail validation, as Patroni refuses to apply them. */
function sanitizeDynamic(raw: unknown, warnings: string[]): ConfigObject {
  if (!isPlainObject(raw)) return {};
  let value = deepClone(raw);
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = dynamicConfigSchema.safeParse(value, { error: configErrorMap });
    if (r.success) return r.data as ConfigObject;
    for (const issue of r.error.issues) {
      warnings.push(`dynamic configuration: ${joinPath(issue.path)}: ${issue.message} (ignored)`);
      let parent: unknown = value;
      for (const p of issue.path.slice(0, -1)) parent = isPlainObject(parent) || Array.isArray(parent) ? (parent as ConfigObject)[p as string] : undefined;
      const last = issue.path[issue.path.length - 1];
      if (last === undefined) return {};
      if (isPlainObject(parent) || Array.isArray(parent)) delete (parent as ConfigObject)[last as string];
    }
  }
  return {};
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** `30min`, `1h`, `90s` or a number of seconds. */
function seconds(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  const m = typeof v === 'string' ? /^\s*(\d+)\s*(s|sec|min|h|d)?\s*$/.exec(v) : null;
  if (!m) return fallback;
  const mult = { s: 1, sec: 1, min: 60, h: 3600, d: 86400 }[m[2] ?? 's'] ?? 1;
  return Number(m[1]) * mult;
}

function clusterSettings(dyn: ConfigObject, timings: Timings, pg: ConfigObject): ClusterSettings {
  const sb = dyn.standby_cluster;
  return {
    ...timings,
    maximumLagOnFailover: num(dyn.maximum_lag_on_failover, 1048576),
    maximumLagOnSyncnode: num(dyn.maximum_lag_on_syncnode, -1),
    maxTimelinesHistory: num(dyn.max_timelines_history, 0),
    primaryStartTimeout: num(dyn.primary_start_timeout ?? dyn.master_start_timeout, 300),
    primaryStopTimeout: num(dyn.primary_stop_timeout ?? dyn.master_stop_timeout, 0),
    primaryRaceBackoff: num(dyn.primary_race_backoff, 0),
    memberSlotsTtl: seconds(dyn.member_slots_ttl, 1800),
    synchronousMode: dyn.synchronous_mode === 'quorum' ? 'quorum' : dyn.synchronous_mode === true,
    synchronousModeStrict: dyn.synchronous_mode_strict === true,
    synchronousNodeCount: num(dyn.synchronous_node_count, 1),
    failsafeMode: dyn.failsafe_mode === true,
    checkTimeline: dyn.check_timeline === true,
    pause: dyn.pause === true,
    standbyCluster: isPlainObject(sb) && Object.values(sb).some((v) => v !== '' && v !== null && v !== undefined) ? sb : null,
    slots: isPlainObject(dyn.slots) ? dyn.slots : {},
    ignoreSlots: Array.isArray(dyn.ignore_slots) ? (dyn.ignore_slots as Array<Record<string, unknown>>) : [],
    useSlots: pg.use_slots !== false,
  };
}

/** Patroni's postgresql merge: defaults < dynamic (minus local-only keys) < local (minus use_slots and CMDLINE GUCs). */
function mergePostgresql(dynPg: unknown, localPg: unknown, warnings: string[]): ConfigObject {
  const pg: ConfigObject = { use_slots: true, parameters: defaultParameters() };
  const params = pg.parameters as ConfigObject;
  if (isPlainObject(dynPg)) {
    for (const [k, v] of Object.entries(dynPg)) {
      if (k === 'parameters') Object.entries(processParameters(v, false, warnings)).forEach(([n, x]) => setParameter(params, n, x));
      else if (!(LOCAL_ONLY_POSTGRESQL_KEYS as readonly string[]).includes(k)) pg[k] = deepClone(v);
    }
  }
  if (isPlainObject(localPg)) {
    for (const [k, v] of Object.entries(localPg)) {
      if (k === 'parameters') Object.entries(processParameters(v, true, [])).forEach(([n, x]) => setParameter(params, n, x));
      else if (k !== 'use_slots') pg[k] = deepClone(v);
    }
  }
  // Pre-1.0 layout: `replication`/`superuser` directly under postgresql.
  if (!isPlainObject(pg.authentication)) {
    const auth: ConfigObject = {};
    for (const u of ['replication', 'superuser']) if (isPlainObject(pg[u])) auth[u] = pg[u];
    pg.authentication = auth;
  }
  return pg;
}

/**
 * Build the effective configuration. `dynamic` is the `/config` value from the DCS (or the cached
 * patroni.dynamic.json), or null when the cluster has none yet: bootstrap.dcs stands in for it.
 */
export function effectiveConfig(local: PghaConfig | ConfigObject, dynamic: unknown | null): EffectiveConfig {
  const warnings: string[] = [];
  const bootstrapDcs = isPlainObject(local.bootstrap) ? (local.bootstrap as ConfigObject).dcs : undefined;
  const dynamicSource = dynamic != null ? 'dcs' : isPlainObject(bootstrapDcs) ? 'bootstrap' : 'none';
  const dyn = sanitizeDynamic(dynamic ?? bootstrapDcs ?? {}, warnings);
  const adjusted = adjustTimings(dyn);
  warnings.push(...adjusted.warnings);
  const { ttl, loopWait, retryTimeout } = adjusted.timings;
  Object.assign(dyn, { ttl, loop_wait: loopWait, retry_timeout: retryTimeout });
  // This node's fence (its local safety_margin) may need a shorter loop_wait than the cluster's.
  const fenced = fitFenceRule(adjusted.timings, local.watchdog);
  if (fenced.warning) warnings.push(fenced.warning);

  const config: ConfigObject = {};
  for (const [k, v] of Object.entries(local)) {
    if (k === 'postgresql' || (CLUSTER_WIDE_KEYS as readonly string[]).includes(k)) continue;
    if (k === 'citus' && !(isPlainObject(v) && Number.isInteger(v.group) && typeof v.database === 'string')) continue;
    config[k] = deepClone(v);
  }
  for (const k of CLUSTER_WIDE_KEYS) if (dyn[k] !== undefined) config[k] = deepClone(dyn[k]);
  if (isPlainObject(dyn.standby_cluster)) {
    const sb: ConfigObject = {};
    for (const k of STANDBY_CLUSTER_KEYS) if (dyn.standby_cluster[k] !== undefined) sb[k] = dyn.standby_cluster[k];
    config.standby_cluster = sb;
  }
  const pg = mergePostgresql(dyn.postgresql, local.postgresql, warnings);
  config.postgresql = pg;
  if (config.name === undefined && typeof pg.name === 'string') config.name = pg.name;
  // Legacy: `exhibitor` nested inside `zookeeper`.
  if (isPlainObject(config.zookeeper) && isPlainObject(config.zookeeper.exhibitor)) {
    config.exhibitor = config.zookeeper.exhibitor;
    delete config.zookeeper;
  }
  // What /config holds but cannot be used (a ttl of "abc", ttl below 20...) is logged once, not silently dropped.
  if (dynamicSource === 'dcs') {
    if (warnings.length) reportMalformed('config (settings)', warnings.join('; '));
    else clearMalformed('config (settings)');
    // Nothing accepted silently: what /config asks for that pgha does not do (logged when it changes).
    const unimplemented = unimplementedWarning(unimplementedDynamicKeys(dynamic, ''), '/config');
    if (unimplemented) warnings.push(unimplemented);
  }
  return {
    config: config as PghaConfig & ConfigObject,
    cluster: clusterSettings(dyn, fenced.timings, pg),
    timings: fenced.timings,
    dynamic: dyn,
    dynamicSource,
    warnings,
  };
}
