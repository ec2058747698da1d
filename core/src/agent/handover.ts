/**
 * Handing the leader key over when the primary shuts down (switchover, SIGTERM): release it as soon
 * as a member that may take over has received the shutdown checkpoint — then nothing the primary
 * acknowledged is missing there — and not before (Patroni's on_shutdown + is_failover_possible).
 * Releasing early matters: the candidate's watch wakes it the moment the key is gone, so the write
 * gap is the shutdown plus a promotion, not a loop_wait.
 * If no member confirms before PostgreSQL has exited, the key is released then: by that time every
 * connected replica has flushed the checkpoint (walsenders wait for it before exiting).
 */
import type { Dcs } from '../dcs/facade.js';
import type { HttpClient } from '../di.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import type { Member } from '../model/member.js';
import { truthy } from '../util/json.js';
import { fetchPeerStatus } from './peers.js';
import type { PostgresPort } from './postgres-port.js';

export interface HandoverOptions {
  readonly name: string;
  readonly dcs: Dcs;
  readonly http: HttpClient;
  readonly logger: Logger;
  /** The view in which we hold the key. */
  readonly cluster: Cluster;
  /** The switchover candidate, if one was named: only it counts. */
  readonly candidate?: string | null;
  /** Synchronous mode is active: without a named candidate only members listed in `/sync` count. */
  readonly syncOnly?: boolean;
  /** Called once the key is released (or found not ours): the fence must not be fed any more. */
  readonly onRelease?: () => void;
  /** Poll interval for members' positions while PostgreSQL shuts down. */
  readonly pollMs?: number;
  /** How to wait between polls (a simulation passes its clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Handover {
  /** PostgreSQL reports a clean shutdown at checkpoint `lsn`: release once a member has it. */
  onShutdown(lsn: number | null): Promise<void>;
  /** PostgreSQL has stopped: release now if that did not happen yet. */
  finish(lastLsn: number | null): Promise<void>;
  readonly released: boolean;
}

/**
 * Members that could take over: the named candidate, or anyone not tagged nofailover (in synchronous
 * mode, anyone listed in `/sync`: releasing once an asynchronous member has the checkpoint would let
 * the synchronous standby promote without it, and that member would then have to be rewound).
 */
function candidates(o: HandoverOptions): Member[] {
  return o.cluster.members.filter((m) => m.name !== o.name && m.apiUrl
    && (o.candidate ? m.name === o.candidate : !truthy(m.tags.nofailover) && (!o.syncOnly || o.cluster.sync.matches(m.name))));
}

export function handover(o: HandoverOptions): Handover {
  let released = false;
  let stopped = false;
  const holding = o.cluster.leaderName === o.name && o.cluster.leader !== null;

  const release = async (lsn: number | null, why: string): Promise<void> => {
    if (released) return;
    released = true;
    o.onRelease?.();
    if (!holding) return;
    o.logger.info(`releasing the leader key: ${why}`);
    await o.dcs.deleteLeader(o.cluster.leader, lsn).catch((e: unknown) => o.logger.error(`failed to release the leader key: ${String(e)}`));
  };

  const waitForCandidate = async (lsn: number): Promise<void> => {
    const members = candidates(o);
    const pollMs = o.pollMs ?? 20;
    while (!released && !stopped) {
      const statuses = await Promise.all(members.map((m) => fetchPeerStatus(o.http, m, 500)));
      const ready = statuses.find((s) => s.reachable && s.walPosition > lsn && !s.nofailover);
      if (ready) return release(lsn, `${ready.name} received the shutdown checkpoint`);
      await (o.sleep ? o.sleep(pollMs) : new Promise((r) => setTimeout(r, pollMs)));
    }
  };

  return {
    get released() { return released; },
    async onShutdown(lsn) {
      if (lsn === null || !holding) return;
      // In the background: the stop must go on (walsenders flush the checkpoint to replicas meanwhile).
      void waitForCandidate(lsn).catch((e: unknown) => o.logger.warn(`checking members for the shutdown checkpoint: ${String(e)}`));
    },
    async finish(lastLsn) {
      stopped = true;
      await release(lastLsn, 'PostgreSQL has stopped');
    },
  };
}

/**
 * The one release-on-shutdown path (switchover's graceful demotion and SIGTERM): a checkpoint first
 * keeps the shutdown checkpoint short; the key goes once a member has it, or once PostgreSQL stopped.
 */
export async function stopHandingOver(pg: PostgresPort, o: HandoverOptions, opts: { blockCallbacks?: boolean; stopTimeoutMs?: number } = {}): Promise<boolean> {
  const h = handover(o);
  const stopped = await pg.stop('fast', { checkpoint: true, onShutdown: (lsn) => h.onShutdown(lsn), blockCallbacks: opts.blockCallbacks, stopTimeoutMs: opts.stopTimeoutMs });
  await h.finish(await pg.lastLsn().catch(() => null));
  return stopped;
}
