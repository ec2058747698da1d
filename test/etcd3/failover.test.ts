/**
 * Several endpoints: when the etcd member a driver is connected to dies, its calls move to the
 * others within retry_timeout, and its watch-fed cache comes back on another member.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dcs } from '@pgha/core';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/procs.js';
import { driverFor, sectionFor, testContext, TEST_TTL, uniqueScope } from './harness.js';

const RETRY_TIMEOUT = 2;
// Timers fire late on a loaded 2-core CI machine; the DCS facade itself enforces the deadline.
const SLACK_MS = 1500;
const timings = { ttl: TEST_TTL, loopWait: 1, retryTimeout: RETRY_TIMEOUT };

let etcd: EtcdCluster;
beforeAll(async () => { etcd = await startEtcd({ members: 3 }); });
afterAll(async () => { await etcd?.stop(); });

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('etcd3 driver losing its etcd member', () => {
  it('refreshes the leader key, reads the cluster and keeps watching after the member dies', async () => {
    const scope = uniqueScope('failover');
    const leaderDriver = driverFor(testContext('node1', scope), sectionFor(etcd));
    const leader = new Dcs(leaderDriver, timings);
    const replica = new Dcs(driverFor(testContext('node2', scope), sectionFor(etcd)), timings);
    try {
      await leader.touchMember({ state: 'running', role: 'primary' });
      expect(await leader.attemptToAcquireLeader()).toBe(true);
      await replica.touchMember({ state: 'running', role: 'replica' });
      const before = await replica.getCluster();
      expect(before.leaderName).toBe('node1');

      // The member serving the watch streams is the one these clients hold a connection to.
      const streams = await waitFor(async () => {
        const counts = await Promise.all(etcd.members.map((_, i) => etcd.watchStreams(i)));
        return counts.some((c) => c > 0) ? counts : null;
      }, 10_000, 'a watch stream on some etcd member');
      const victim = streams.indexOf(Math.max(...streams));
      await etcd.kill(victim);

      const refresh = await timed(() => leader.updateLeader(before.leader!, 4242));
      expect(refresh.value).toBe(true);
      expect(refresh.ms).toBeLessThan(RETRY_TIMEOUT * 1000 + SLACK_MS);

      // Another member's write: the replica sees it once its watch (or a range read) delivers it.
      const read = await timed(async () => {
        for (;;) {
          const c = await replica.getCluster();
          if (c.lastLsn === 4242) return c;
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      expect(read.value.leaderName).toBe('node1');
      expect(read.value.lastLsn).toBe(4242);
      expect(read.ms).toBeLessThan(RETRY_TIMEOUT * 1000 + SLACK_MS);

      // The replica's watch (re)attaches to a live member and still wakes on a leader change.
      const cur = read.value.leader!;
      const woke = replica.watch(cur.version, 15);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      expect(await leader.deleteLeader(cur)).toBe(true);
      expect(await woke).toBe(true);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect((await replica.getCluster()).leader).toBeNull();
    } finally {
      await Promise.allSettled([leader.close(), replica.close()]);
    }
  });

  it('refreshes the leader key within retry_timeout when the etcd leader dies (every member refuses until the election ends)', async () => {
    for (let i = 0; i < etcd.members.length; i++) await etcd.restart(i);
    await etcd.waitHealthy();
    const scope = uniqueScope('election');
    const leader = new Dcs(driverFor(testContext('node1', scope), sectionFor(etcd)), timings);
    try {
      await leader.touchMember({ state: 'running', role: 'primary' });
      expect(await leader.attemptToAcquireLeader()).toBe(true);
      const cur = (await leader.getCluster()).leader!;
      // A few calls on shuffled hosts, so the client likely holds a connection to the member killed next.
      for (let n = 0; n < 6; n++) await leader.touchMember({ state: 'running', role: 'primary', n });
      await etcd.kill(await etcd.leaderIndex());

      const refresh = await timed(() => leader.updateLeader(cur, 77));
      expect(refresh.value).toBe(true);
      expect(refresh.ms).toBeLessThan(RETRY_TIMEOUT * 1000 + SLACK_MS);
      expect((await leader.getCluster()).lastLsn).toBe(77);
    } finally {
      await leader.close();
    }
  });
});
