/** The non-DCS, non-postgresql sections of the local configuration (reference §6.1). */
import { z } from 'zod';
import { dynamicConfigSchema } from './dynamic.js';
import { basicAuth, bool, count, int, scalarMap, scalarString, str, stringList, stringOrList, toolOptions } from './primitives.js';

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'CRITICAL', 'FATAL', 'NOTSET'] as const;
export const logLevel = z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(LOG_LEVELS));

export const logSection = z.looseObject({
  type: z.enum(['plain', 'json']).optional(),
  level: logLevel.optional(),
  traceback_level: logLevel.optional(),
  format: z.union([str, z.array(z.union([str, scalarMap]))]).optional(),
  dateformat: str.optional(),
  static_fields: scalarMap.optional(),
  max_queue_size: count.optional(),
  dir: str.optional(),
  mode: int.optional(),
  file_num: count.optional(),
  file_size: count.optional(),
  loggers: z.record(z.string(), logLevel).optional(),
  deduplicate_heartbeat_logs: bool.optional(),
});

export const restapiSection = z.looseObject({
  listen: scalarString.optional(),
  connect_address: scalarString.optional(),
  authentication: basicAuth.optional(),
  certfile: str.optional(),
  keyfile: str.optional(),
  keyfile_password: str.optional(),
  cafile: str.optional(),
  ciphers: str.optional(),
  verify_client: z.enum(['none', 'optional', 'required']).optional(),
  allowlist: stringList.optional(),
  allowlist_include_members: bool.optional(),
  http_extra_headers: scalarMap.optional(),
  https_extra_headers: scalarMap.optional(),
  request_queue_size: count.optional(),
  server_tokens: str.optional(),
});

export const ctlSection = z.looseObject({
  authentication: basicAuth.optional(),
  insecure: bool.optional(),
  cacert: str.optional(),
  certfile: str.optional(),
  keyfile: str.optional(),
  keyfile_password: str.optional(),
});

export type WatchdogMode = 'off' | 'automatic' | 'required';

/**
 * Patroni's watchdog parse_mode: YAML `off` arrives as boolean false; `auto`/`require`/`disable`
 * spellings are accepted; boolean true is "not recognized" and disables the watchdog (lint warns).
 */
export function parseWatchdogMode(v: unknown): WatchdogMode | undefined {
  if (typeof v === 'boolean') return 'off';
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'require' || s === 'required') return 'required';
  if (s === 'auto' || s === 'automatic') return 'automatic';
  if (s === 'off' || s === 'disable' || s === 'disabled' || s === 'false' || s === 'no') return 'off';
  return undefined;
}

export const watchdogSection = z.looseObject({
  mode: z.preprocess((v) => parseWatchdogMode(v) ?? v, z.enum(['off', 'automatic', 'required'])).optional(),
  device: str.optional(),
  safety_margin: int.optional(),
  driver: str.optional(),
});

export const tagsSection = z.looseObject({
  nofailover: bool.optional(),
  failover_priority: int.optional(),
  clonefrom: bool.optional(),
  noloadbalance: bool.optional(),
  replicatefrom: str.optional(),
  nosync: bool.optional(),
  nostream: bool.optional(),
  sync_priority: int.optional(),
});

export const citusSection = z.looseObject({
  group: int.optional(),
  database: str.optional(),
});

export const bootstrapSection = z.looseObject({
  dcs: dynamicConfigSchema.optional(),
  method: str.optional(),
  initdb: toolOptions.optional(),
  post_bootstrap: str.optional(),
  post_init: str.optional(),
  pg_hba: stringList.optional(),
  users: z.record(z.string(), z.looseObject({ password: scalarString.optional(), options: stringList.optional() })).optional(),
});

export const pluginsList = stringOrList;

