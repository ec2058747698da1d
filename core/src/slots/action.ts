/**
 * The executor's side of the `sync_slots` action and of publishing slot positions with the lock.
 * Copying logical slots from the primary stops and starts PostgreSQL, so it runs as a long action
 * (Patroni's async `copy_logical_slots`), never while another one runs.
 */
import type { LongActionRunner } from '../agent/long-action.js';
import type { PostgresPort } from '../agent/postgres-port.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import type { SlotKeeper } from './keeper.js';
import type { SlotOp } from './plan.js';

export interface SlotActionContext {
  readonly name: string;
  readonly cluster: Cluster | null;
  readonly slots?: SlotKeeper;
  readonly long: LongActionRunner;
  readonly pg: PostgresPort;
  readonly logger: Logger;
}

/** Run a `sync_slots` action: its operations now (also while a promotion runs), the copy only when nothing else runs. */
export async function syncSlots(ctx: SlotActionContext, a: { ops: readonly SlotOp[]; copy: readonly string[]; errors: readonly string[] }): Promise<void> {
  const { cluster, slots, long } = ctx;
  for (const e of a.errors) ctx.logger.error(e);
  if (!slots || !cluster || (long.running && long.running.name !== 'promote')) return;
  await slots.execute(a.ops);
  const leader = cluster.leader;
  if (!a.copy.length || !leader || cluster.leaderName === ctx.name || long.running) return;
  const copy = [...a.copy];
  long.run('restart', `copying logical slots ${copy.join(', ')} from the primary`, async (signal) => {
    const files = await slots.fetchFromLeader(cluster, leader, copy);
    if (!files.length) return false;
    await slots.settle();
    if (!(await ctx.pg.stop('fast'))) return false;
    slots.install(files);
    ctx.logger.info(`copied logical replication slots ${files.map((f) => f.name).join(', ')} from ${leader.name}`);
    return ctx.pg.start('replica', leader, signal);
  });
}
