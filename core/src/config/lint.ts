/**
 * Warnings about a configuration that is valid but will not do what its author likely meant. Patroni
 * mostly ignores these cases silently; saying so saves an operator an afternoon.
 */
import { isPlainObject, parseBool } from '../util/json.js';
import { CLUSTER_WIDE_KEYS, LOCAL_ONLY_POSTGRESQL_KEYS } from './effective.js';
import type { ConfigObject } from './merge.js';
import { isCmdlineOption } from './postgresql-params.js';
import { DCS_SECTION_NAMES } from './schema/dcs.js';
import { adjustTimings } from './timings.js';

export function lintConfig(raw: ConfigObject, opts: { dcsNames?: readonly string[] } = {}): string[] {
  const warnings: string[] = [];
  for (const key of CLUSTER_WIDE_KEYS) {
    if (raw[key] !== undefined) {
      warnings.push(`${key}: a dynamic (cluster-wide) setting; the local value is ignored. Set it under bootstrap.dcs, or with edit-config once the cluster exists`);
    }
  }
  const bootstrap = isPlainObject(raw.bootstrap) ? raw.bootstrap : {};
  if (isPlainObject(bootstrap.dcs)) {
    warnings.push(...adjustTimings(bootstrap.dcs).warnings.map((w) => `bootstrap.dcs: ${w}`));
    const dynPg = bootstrap.dcs.postgresql;
    if (isPlainObject(dynPg)) {
      for (const k of LOCAL_ONLY_POSTGRESQL_KEYS) {
        if (dynPg[k] !== undefined) warnings.push(`bootstrap.dcs.postgresql.${k}: local-only setting, ignored in the dynamic configuration`);
      }
    }
  }
  if (bootstrap.users !== undefined) warnings.push('bootstrap.users: deprecated (removed in Patroni 4); create users in post_bootstrap instead');
  const pg = isPlainObject(raw.postgresql) ? raw.postgresql : {};
  if (isPlainObject(pg.parameters)) {
    for (const name of Object.keys(pg.parameters)) {
      if (isCmdlineOption(name)) warnings.push(`postgresql.parameters.${name}: taken from the dynamic configuration only; the local value is ignored`);
    }
  }
  if (pg.use_slots !== undefined) warnings.push('postgresql.use_slots: taken from the dynamic configuration only; the local value is ignored');
  const watchdog = isPlainObject(raw.watchdog) ? raw.watchdog : {};
  if (watchdog.mode === true) warnings.push('watchdog.mode: true is not a watchdog mode; the watchdog is disabled (use automatic or required)');
  const tags = isPlainObject(raw.tags) ? raw.tags : {};
  if (tags.nofailover !== undefined && tags.failover_priority !== undefined) {
    const nofailover = parseBool(tags.nofailover) ?? Boolean(tags.nofailover);
    const priority = Number(tags.failover_priority);
    if (nofailover === priority > 0) {
      warnings.push(`Conflicting configuration between nofailover: ${nofailover ? 'True' : 'False'} and failover_priority: ${priority}. `
        + `Defaulting to nofailover: ${nofailover ? 'True' : 'False'}`);
    }
  }
  const dcs = [...DCS_SECTION_NAMES, ...(opts.dcsNames ?? [])];
  if (!dcs.some((k) => isPlainObject(raw[k]))) warnings.push(`no DCS section found; add one of: ${DCS_SECTION_NAMES.join(', ')}`);
  return warnings;
}
