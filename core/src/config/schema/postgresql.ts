/** The `postgresql` section (reference §6.2) and the dynamic subset that `/config` may carry. */
import { z } from 'zod';
import { bool, count, pgRole, scalarMap, scalarString, str, stringList, toolOptions } from './primitives.js';

export const BINARY_NAMES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'] as const;

export const callbacksSchema = z.looseObject({
  on_start: str.optional(),
  on_stop: str.optional(),
  on_restart: str.optional(),
  on_reload: str.optional(),
  on_role_change: str.optional(),
});

/** Keys both local and dynamic `postgresql` may hold. */
const sharedPostgresqlKeys = {
  use_pg_rewind: bool.optional(),
  use_slots: bool.optional(),
  recovery_conf: scalarMap.optional(),
  parameters: scalarMap.optional(),
  pg_hba: stringList.optional(),
  pg_ident: stringList.optional(),
  remove_data_directory_on_rewind_failure: bool.optional(),
  remove_data_directory_on_diverged_timelines: bool.optional(),
};

/** A replica-creation or bootstrap method section: `{command, keep_data, no_params, no_leader, ...}`. */
export const methodSection = z.looseObject({
  command: str.optional(),
  keep_data: bool.optional(),
  no_params: bool.optional(),
  no_leader: bool.optional(),
  no_master: bool.optional(),
  keep_existing_recovery_conf: bool.optional(),
  recovery_conf: scalarMap.optional(),
});

export const postgresqlSection = z.looseObject({
  ...sharedPostgresqlKeys,
  listen: scalarString.optional(),
  connect_address: scalarString.optional(),
  proxy_address: scalarString.optional(),
  data_dir: str.optional(),
  config_dir: str.optional(),
  bin_dir: str.optional(),
  bin_name: z.looseObject(Object.fromEntries(BINARY_NAMES.map((b) => [b, str.optional()]))).optional(),
  pgpass: str.optional(),
  use_unix_socket: bool.optional(),
  use_unix_socket_repl: bool.optional(),
  custom_conf: str.optional(),
  pg_ctl_timeout: count.optional(),
  authentication: z.looseObject({
    superuser: pgRole.optional(),
    replication: pgRole.optional(),
    rewind: pgRole.optional(),
  }).optional(),
  callbacks: callbacksSchema.optional(),
  create_replica_methods: stringList.optional(),
  basebackup: toolOptions.optional(),
  pre_promote: str.optional(),
  before_stop: str.optional(),
  krbsrvname: str.optional(),
});

/**
 * Dynamic `postgresql` (in `/config` and bootstrap.dcs). Patroni drops local-only keys found there
 * (connect_address, listen, data_dir...) rather than failing, so they are allowed through here and
 * removed by effectiveConfig.
 */
export const dynamicPostgresqlSection = z.looseObject(sharedPostgresqlKeys);
