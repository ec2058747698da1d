/**
 * The replica's wait between HA cycles: wake as soon as the leader znode is created, changed or
 * deleted (its owner's session expired), or our own session expired. One ZooKeeper watch on the
 * leader znode is armed at a time (each fires once), so naps do not pile up watchers.
 */
import type { Version } from '@pgha/core';
import type { Stat } from 'node-zookeeper-client';
import type { ZkSession } from './session.js';
import { deadline, type Left, type Znodes } from './znodes.js';

/**
 * The leader's version is its mzxid, not the znode version Patroni reports: a leader znode
 * deleted and created again (a takeover) starts over at version 0, which a watch comparing
 * versions would miss; the zxid of the last change differs for every incarnation. Nothing
 * compare-and-swaps the leader on its version, so this changes no write.
 */
export function leaderVersionOf(stat: Stat): string {
  return Buffer.from(stat.mzxid).toString('hex');
}

export class LeaderWatch {
  private readonly waiters = new Set<() => void>();
  private armed: ZkSession | null = null;

  constructor(private readonly z: Znodes, private readonly live: () => ZkSession) {}

  /** Wake every waiter (a watch fired, a session expired, the driver closed). */
  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The session's watches died with it: arm again on the next wait. */
  sessionGone(s: ZkSession): void {
    if (this.armed === s) this.armed = null;
  }

  private async leaderStat(left: Left): Promise<Stat | null> {
    const session = this.live();
    const arm = this.armed !== session;
    const path = this.z.path('leader');
    const r = await this.z.req<Stat>('watch leader', left, (c, cb) => {
      if (arm) {
        c.exists(path, () => {
          if (this.armed === session) this.armed = null;
          this.notify();
        }, cb);
      } else c.exists(path, cb);
    }, session);
    if (arm) this.armed = session;
    return r.ok ? (r.value ?? null) : null;
  }

  /**
   * Resolve true on a change compared with `leaderVersion`, false after `timeoutMs` or on abort.
   * The look at the znode gets the usual retry_timeout budget even when the nap is shorter: a tiny
   * deadline would only misread a busy server as a hung one.
   */
  wait(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal, retryMs: number): Promise<boolean> {
    if (signal.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let done = false;
      const finish = (v: boolean | Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(listener);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const listener = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(listener);
      this.leaderStat(deadline(retryMs)).then((stat) => {
        if (String(stat ? leaderVersionOf(stat) : null) !== String(leaderVersion ?? null)) finish(true);
      }, (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }
}
