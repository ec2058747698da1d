/**
 * The executor against an in-memory DCS and a recording PostgreSQL port: what a plan does when
 * the lock refresh is lost or the store fails mid-refresh, and what the fence is fed.
 */
import { describe, expect, it } from 'vitest';
import { clusterBasePath, type DcsContext } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { decide } from '../ha/decide.js';
import { runningPrimary, scenario, SYSID } from '../ha/scenario.js';
import type { HaEvent } from '../ha/types.js';
import { silentLogger } from '../log.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import { executePlan, type ExecutorContext } from './executor.js';
import { LongActionRunner } from './long-action.js';
import type { PostgresPort } from './postgres-port.js';

/** A PostgresPort that records calls and answers the few the executor awaits. */
function recordingPort(extra: Record<string, unknown> = {}): { port: PostgresPort; calls: string[] } {
  const calls: string[] = [];
  const answers: Record<string, unknown> = { lastLsn: 1000, demote: undefined, stop: true, follow: 'unchanged', ...extra };
  const port = new Proxy({}, {
    get: (_t, prop: string) => (...args: unknown[]) => {
      calls.push(prop === 'demote' ? `demote:${String(args[0])}` : prop);
      return Promise.resolve(answers[prop]);
    },
  }) as PostgresPort;
  return { port, calls };
}

/** A member `name` of scope x on `store`, through the facade the agent uses (ctl: a patronictl-like reader). */
function memberDcs(store: MemoryStore, name: string, ctl = false): { dcs: Dcs; driver: MemoryDriver } {
  const ctx: DcsContext = { name, scope: 'x', namespace: '/service', basePath: clusterBasePath('/service', 'x'), ttl: 30, loopWait: 10, retryTimeout: 10, ctl };
  const driver = new MemoryDriver(store, ctx);
  return { dcs: new Dcs(driver, { ttl: 30, loopWait: 10, retryTimeout: 10 }), driver };
}

async function leaderSetup(failUpdate: 'throw' | 'lost' | null, failsafe?: { confirm: boolean }) {
  const store = new MemoryStore();
  const { dcs, driver } = memberDcs(store, 'node1');
  expect(await dcs.attemptToAcquireLeader()).toBe(true);
  const cluster = await dcs.getCluster();
  if (failUpdate === 'throw') store.down = true;
  if (failUpdate === 'lost') await memberDcs(store, 'node2').driver.takeLeader();
  const { port, calls } = recordingPort();
  const fed: Array<number | null> = [];
  const ectx: ExecutorContext = {
    name: 'node1', dcs, pg: port, logger: silentLogger, http: fetch, long: new LongActionRunner(silentLogger, () => undefined, () => 0), cluster,
    dynamicConfig: () => ({}), monotonic: () => performance.now(), wall: () => Date.now(),
    report: () => undefined, lockSentAt: (t) => { fed.push(t); }, wakeup: () => undefined,
    ...(failsafe ? {
      confirmFailsafe: async () => { calls.push('confirm'); return failsafe.confirm; },
      onDcsLost: () => { calls.push('dcs_lost'); },
      failsafeTopology: () => ({ node1: 'http://n1/patroni', node2: 'http://n2/patroni' }),
    } : {}),
  };
  const { plan } = decide(scenario({ me: 'node1', leader: 'node1', settings: { failsafeMode: !!failsafe } }));
  return { ectx, plan, calls, fed, driver, store };
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

  it('failsafe: a refresh the DCS does not answer asks the peers; kept only when all confirm', async () => {
    const kept = await leaderSetup('throw', { confirm: true });
    expect(await executePlan(kept.ectx, kept.plan)).toBe('continue to run as a leader because failsafe mode is enabled and all members are accessible');
    expect(kept.calls.filter((c) => c === 'confirm' || c === 'dcs_lost' || c.startsWith('demote'))).toEqual(['dcs_lost', 'confirm']);
    expect(kept.fed).toEqual([null]); // the fence is extended by the confirmation hook, never by the failed refresh
    const refused = await leaderSetup('throw', { confirm: false });
    expect(await executePlan(refused.ectx, refused.plan)).toBe('demoting self because DCS is not accessible and I was a leader');
    expect(refused.calls).toContain('demote:offline');
  });

  it('failsafe: a lost compare-and-swap still demotes at once (someone else holds the lock)', async () => {
    const { ectx, plan, calls } = await leaderSetup('lost', { confirm: true });
    expect(await executePlan(ectx, plan)).toBe('demoted self because failed to update leader lock in DCS');
    expect(calls).not.toContain('confirm');
  });

  it('failsafe: a healthy refresh publishes /failsafe', async () => {
    const { ectx, plan, store } = await leaderSetup(null, { confirm: true });
    await executePlan(ectx, plan);
    const c = await memberDcs(store, 'x', true).dcs.getCluster();
    expect(c.failsafe).toEqual({ node1: 'http://n1/patroni', node2: 'http://n2/patroni' });
  });
});

describe('executor: finishing a bootstrap', () => {
  /** node1 finished initdb and post_bootstrap under the race key (''); `leader`: who holds the key now. */
  async function finishing(leader: 'node1' | 'node2' | null) {
    const store = new MemoryStore();
    const { dcs } = memberDcs(store, 'node1');
    expect(await dcs.initialize(true, '')).toBe(true);
    const other = memberDcs(store, 'node2').dcs;
    if (leader === 'node2') {
      // The race key was cleared as abandoned and node2 bootstrapped meanwhile.
      expect(await other.attemptToAcquireLeader()).toBe(true);
      await other.initialize(false, '6000000000000000001');
      await other.setConfigValue('{"ttl":30}');
    }
    const cluster = await dcs.getCluster();
    if (leader === 'node1') expect(await dcs.attemptToAcquireLeader()).toBe(true); // an earlier try whose answer was lost
    const { port, calls } = recordingPort({ facts: { sysid: SYSID }, moveDataDirAside: '/data/pg.failed' });
    const events: HaEvent[] = [];
    const ectx: ExecutorContext = {
      name: 'node1', dcs, pg: port, logger: silentLogger, http: fetch, long: new LongActionRunner(silentLogger, () => undefined, () => 0), cluster,
      dynamicConfig: () => ({ ttl: 30, loop_wait: 10 }), monotonic: () => performance.now(), wall: () => Date.now(),
      report: (e) => { events.push(e); }, lockSentAt: () => undefined, wakeup: () => undefined,
    };
    const { plan } = decide(scenario({ leader: null, initialize: '', pg: runningPrimary, memory: { bootstrap: 'post_done' } }));
    await executePlan(ectx, plan);
    return { calls, events: events.map((e) => e.type), after: await other.getCluster() };
  }

  it('takes the leader key, then stamps the cluster with its system ID and configuration', async () => {
    const { calls, events, after } = await finishing(null);
    expect(after.leaderName).toBe('node1');
    expect(after.initialize).toBe(SYSID);
    expect(after.config?.data).toMatchObject({ ttl: 30, loop_wait: 10 });
    expect(events).toEqual(['lock', 'bootstrap_finished']);
    expect(calls).not.toContain('stop');
  });

  it('a key it already holds (an earlier attempt whose answer was lost) counts as its own', async () => {
    const { events, after } = await finishing('node1');
    expect(after.leaderName).toBe('node1');
    expect(after.initialize).toBe(SYSID);
    expect(events).toEqual(['lock', 'bootstrap_finished']);
  });

  it('another leader: nothing of that cluster is touched; this server stops and its data goes aside', async () => {
    const { calls, events, after } = await finishing('node2');
    expect(after.leaderName).toBe('node2');
    expect(after.initialize).toBe('6000000000000000001');
    expect(after.config?.data).toEqual({ ttl: 30 });
    expect(calls).toEqual(['stop', 'moveDataDirAside']);
    expect(events).toEqual(['bootstrap_lost']);
  });
});
