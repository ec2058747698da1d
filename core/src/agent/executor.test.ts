/**
 * The executor against an in-memory DCS and a recording PostgreSQL port: what a plan does when
 * the lock refresh is lost or the store fails mid-refresh, and what the fence is fed.
 */
import { describe, expect, it } from 'vitest';
import { clusterBasePath, type DcsContext } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { decide } from '../ha/decide.js';
import { scenario } from '../ha/scenario.js';
import { silentLogger } from '../log.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import { executePlan, type ExecutorContext } from './executor.js';
import { LongActionRunner } from './long-action.js';
import type { PostgresPort } from './postgres-port.js';

/** A PostgresPort that records calls and answers the few the executor awaits. */
function recordingPort(): { port: PostgresPort; calls: string[] } {
  const calls: string[] = [];
  const answers: Record<string, unknown> = { lastLsn: 1000, demote: undefined, stop: true, follow: 'unchanged' };
  const port = new Proxy({}, {
    get: (_t, prop: string) => (...args: unknown[]) => {
      calls.push(prop === 'demote' ? `demote:${String(args[0])}` : prop);
      return Promise.resolve(answers[prop]);
    },
  }) as PostgresPort;
  return { port, calls };
}

async function leaderSetup(failUpdate: 'throw' | 'lost' | null) {
  const store = new MemoryStore();
  const ctx: DcsContext = { name: 'node1', scope: 'x', namespace: '/service', basePath: clusterBasePath('/service', 'x'), ttl: 30, loopWait: 10, retryTimeout: 10, ctl: false };
  const driver = new MemoryDriver(store, ctx);
  const dcs = new Dcs(driver, { ttl: 30, loopWait: 10, retryTimeout: 10 });
  expect(await dcs.attemptToAcquireLeader()).toBe(true);
  const cluster = await dcs.getCluster();
  if (failUpdate === 'throw') store.down = true;
  if (failUpdate === 'lost') await new MemoryDriver(store, { ...ctx, name: 'node2' }).takeLeader();
  const { port, calls } = recordingPort();
  const fed: Array<number | null> = [];
  const ectx: ExecutorContext = {
    name: 'node1', dcs, pg: port, logger: silentLogger, http: fetch, long: new LongActionRunner(silentLogger, () => undefined, () => 0), cluster,
    dynamicConfig: () => ({}), monotonic: () => performance.now(), wall: () => Date.now(),
    report: () => undefined, lockSentAt: (t) => { fed.push(t); }, wakeup: () => undefined,
  };
  const { plan } = decide(scenario({ me: 'node1', leader: 'node1' }));
  return { ectx, plan, calls, fed, driver };
}

describe('executor: refreshing the leader lock', () => {
  it('a healthy refresh feeds the fence with the lease renewal time', async () => {
    const { ectx, plan, calls, fed, driver } = await leaderSetup(null);
    const before = performance.now();
    expect(await executePlan(ectx, plan)).toBe('no action. I am (node1), the leader with the lock');
    expect(calls).not.toContain('demote:immediate-nolock');
    expect(fed).toHaveLength(1);
    // Never later than the driver's renewal, never earlier than the call that made it.
    expect(fed[0]!).toBeLessThanOrEqual(driver.leaderLeaseSentAt()!);
    expect(fed[0]!).toBeGreaterThanOrEqual(before);
  });

  it('a lost lock demotes (Patroni: demoted self because failed to update leader lock in DCS)', async () => {
    const { ectx, plan, calls, fed } = await leaderSetup('lost');
    expect(await executePlan(ectx, plan)).toBe('demoted self because failed to update leader lock in DCS');
    expect(calls).toContain('demote:immediate-nolock');
    expect(fed.length).toBeGreaterThan(0);
    expect(fed.every((t) => t === null)).toBe(true);
  });

  it('a DCS error during the refresh takes the same path as a lost lock', async () => {
    const { ectx, plan, calls, fed } = await leaderSetup('throw');
    expect(await executePlan(ectx, plan)).toBe('demoted self because failed to update leader lock in DCS');
    expect(calls).toContain('demote:immediate-nolock');
    expect(fed.length).toBeGreaterThan(0);
    expect(fed.every((t) => t === null)).toBe(true);
  });
});
