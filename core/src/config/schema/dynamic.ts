/**
 * The dynamic (cluster-wide) keys: what `/config` in the DCS holds, what `bootstrap.dcs` seeds it
 * with, and (ignored by Patroni, but accepted) what users sometimes write at the top level.
 */
import { z } from 'zod';
import { bool, count, int, scalarString, str, stringList } from './primitives.js';
import { dynamicPostgresqlSection } from './postgresql.js';

export const standbyClusterSchema = z.looseObject({
  host: scalarString.optional(),
  port: scalarString.optional(),
  primary_slot_name: str.optional(),
  create_replica_methods: stringList.optional(),
  restore_command: str.optional(),
  archive_cleanup_command: str.optional(),
  recovery_min_apply_delay: scalarString.optional(),
});

const slotSchema = z.union([
  z.looseObject({
    type: z.enum(['physical', 'logical']).optional(),
    database: str.optional(),
    plugin: str.optional(),
    failover: bool.optional(),
    cluster_type: z.enum(['primary', 'standby']).optional(),
  }),
  z.null(),
]);

const ignoreSlotSchema = z.looseObject({
  name: str.optional(),
  type: z.enum(['physical', 'logical']).optional(),
  database: str.optional(),
  plugin: str.optional(),
});

/** `synchronous_mode`: a boolean, or `quorum` (Patroni 4). */
export const synchronousModeSchema = z.union([bool, z.literal('quorum')]);

export const dynamicKeys = {
  ttl: int.optional(),
  loop_wait: int.optional(),
  retry_timeout: int.optional(),
  maximum_lag_on_failover: int.optional(),
  maximum_lag_on_syncnode: int.optional(),
  max_timelines_history: count.optional(),
  primary_start_timeout: count.optional(),
  master_start_timeout: count.optional(),
  primary_stop_timeout: count.optional(),
  master_stop_timeout: count.optional(),
  primary_race_backoff: count.optional(),
  member_slots_ttl: scalarString.optional(),
  synchronous_mode: synchronousModeSchema.optional(),
  synchronous_mode_strict: bool.optional(),
  synchronous_node_count: count.optional(),
  failsafe_mode: bool.optional(),
  check_timeline: bool.optional(),
  pause: bool.optional(),
  standby_cluster: z.union([standbyClusterSchema, z.null()]).optional(),
  slots: z.union([z.record(z.string(), slotSchema), z.null()]).optional(),
  ignore_slots: z.union([z.array(ignoreSlotSchema), z.null()]).optional(),
};

/** `/config` and bootstrap.dcs: the dynamic keys plus dynamic `postgresql`. */
export const dynamicConfigSchema = z.looseObject({
  ...dynamicKeys,
  postgresql: dynamicPostgresqlSection.optional(),
});

export type DynamicConfig = z.output<typeof dynamicConfigSchema>;
