/**
 * Stopping PostgreSQL when the agent shuts down (SIGTERM), as Patroni's Ha.shutdown:
 *  - a synchronous standby first asks the leader to release it (Patroni's while_not_sync_standby): it
 *    publishes `nosync` and waits up to two loop_waits for `/sync` to stop naming it, so its stop
 *    does not hold the primary's commits; a DCS failure only skips the wait (it is a hint);
 *  - a leader hands over: the key goes once a member has the shutdown checkpoint (handover.ts);
 *  - in synchronous mode the stop is bounded by primary_stop_timeout (immediate, then SIGKILL).
 */
import type { Dcs } from '../dcs/facade.js';
import type { HttpClient } from '../di.js';
import { syncModeActive } from '../ha/sync-race.js';
import { primaryStopTimeout } from '../ha/decide.js';
import type { HaSettings, SyncSettings } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { stopHandingOver } from './handover.js';
import type { PostgresPort } from './postgres-port.js';

/** This node is a synchronous (or quorum) standby of the current leader according to `/sync`. */
export function isSyncStandby(cluster: Cluster, name: string): boolean {
  const leader = cluster.leaderName;
  return !!leader && cluster.sync.leader === leader && cluster.sync.matches(name);
}

export interface SyncReleaseOptions {
  readonly name: string;
  readonly sync?: SyncSettings;
  /** The node's own `nosync` tag: never a sync standby, nothing to wait for. */
  readonly nosync: boolean;
  readonly loopWait: number;
  readonly dcs: Pick<Dcs, 'getCluster'>;
  /** Publish the member key with `nosync: true` while `on` (false when the write failed). */
  readonly announce: (on: boolean) => Promise<boolean>;
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Run `fn` once the leader no longer counts on this node as a synchronous standby (or the wait ran out). */
export async function whileNotSyncStandby<T>(o: SyncReleaseOptions, fn: () => Promise<T>): Promise<T> {
  if (!o.sync?.mode || o.nosync) return fn();
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    if (await o.announce(true)) {
      // The leader notices at its next cycle; after two, releasing us is unlikely to matter any more.
      const deadline = Date.now() + o.loopWait * 2000;
      for (;;) {
        let cluster: Cluster;
        try {
          cluster = await o.dcs.getCluster();
        } catch {
          o.logger.warn('Could not get cluster state, skipping synchronous standby disable');
          break;
        }
        if (!isSyncStandby(cluster, o.name) || Date.now() >= deadline) break;
        o.logger.info('Waiting for primary to release us from synchronous standby');
        await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
      }
    } else {
      o.logger.warn('Updating member state failed, skipping synchronous standby disable');
    }
    return await fn();
  } finally {
    await o.announce(false).catch(() => false);
  }
}

export interface ShutdownOptions extends Omit<SyncReleaseOptions, 'sync' | 'loopWait' | 'dcs'> {
  readonly pg: PostgresPort;
  readonly dcs: Dcs;
  readonly http: HttpClient;
  readonly cluster: Cluster | null;
  readonly settings: HaSettings;
  /** The key is released (or found not ours): the fence must not be fed any more. */
  readonly onRelease: () => void;
}

/** Stop PostgreSQL for good (the agent is exiting). */
export async function shutdownPostgres(o: ShutdownOptions): Promise<void> {
  const { cluster, pg, settings } = o;
  const timeout = primaryStopTimeout(settings);
  const stopTimeoutMs = timeout ? timeout * 1000 : undefined;
  await whileNotSyncStandby({ ...o, sync: settings.sync, loopWait: settings.loopWait }, async () => {
    if (!cluster) return pg.stop('fast', { checkpoint: true, stopTimeoutMs });
    return stopHandingOver(pg, {
      name: o.name, dcs: o.dcs, http: o.http, logger: o.logger, cluster, sleep: o.sleep, onRelease: o.onRelease,
      syncOnly: syncModeActive(settings.sync, cluster),
    }, { stopTimeoutMs });
  });
}
