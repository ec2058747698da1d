import { describe, expect, it } from 'vitest';
import { DcsError, ErrorCodes } from '../errors.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import { clusterBasePath, type DcsContext, type DcsDriver } from './driver.js';
import { Dcs } from './facade.js';

function setup(name = 'node1') {
  const store = new MemoryStore();
  const ctx: DcsContext = { name, scope: 's', namespace: '/service', basePath: clusterBasePath('service', 's'), ttl: 30, loopWait: 10, retryTimeout: 1, ctl: false };
  const driver = new MemoryDriver(store, ctx);
  const writes: string[] = [];
  const spy = new Proxy(driver, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v === 'function' && typeof prop === 'string' && prop.startsWith('write')) {
        return (...args: unknown[]) => { writes.push(`${prop}:${String(args[0])}`); return v.apply(target, args); };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as DcsDriver;
  return { store, ctx, driver, writes, dcs: new Dcs(spy, { ttl: 30, loopWait: 10, retryTimeout: 1 }) };
}

describe('Dcs facade', () => {
  it('builds key paths under /<namespace>/<scope>', () => {
    expect(clusterBasePath(undefined, 'demo')).toBe('/service/demo');
    expect(clusterBasePath('/service/', 'demo')).toBe('/service/demo');
    expect(clusterBasePath('custom', 'x')).toBe('/custom/x');
  });

  it('updateLeader refreshes the lock, then writes /status and /failsafe only when changed', async () => {
    const { dcs, writes } = setup();
    expect(await dcs.attemptToAcquireLeader()).toBe(true);
    const leader = (await dcs.getCluster()).leader!;
    expect(await dcs.updateLeader(leader, 100, { perm: 90 }, { node1: 'http://a/patroni' })).toBe(true);
    // Patroni 4.1: every slot plus my own at my LSN; my slot is retained while my member key is missing.
    expect(writes).toEqual(['writeStatus:{"optime":100,"slots":{"perm":90,"node1":100},"retain_slots":["node1"]}', 'writeFailsafe:{"node1":"http://a/patroni"}']);
    await dcs.updateLeader(leader, 100, { perm: 90 }, { node1: 'http://a/patroni' });
    expect(writes).toHaveLength(2);
    await dcs.updateLeader(leader, 200, null, null);
    expect(writes.at(-1)).toBe('writeStatus:{"optime":200,"retain_slots":["node1"]}');
    // a fresh read that already shows our status does not trigger a rewrite
    await dcs.getCluster();
    await dcs.updateLeader(leader, 200);
    expect(writes).toHaveLength(3);
  });

  it('reuses the Cluster built from the same node array; a new array is parsed again', async () => {
    const { dcs, driver } = setup();
    expect(await dcs.attemptToAcquireLeader()).toBe(true);
    const nodes = await driver.loadCluster();
    driver.loadCluster = async () => nodes; // a watch-fed copy that has not changed
    const first = await dcs.getCluster();
    expect(await dcs.getCluster()).toBe(first);
    driver.loadCluster = async () => [...nodes.filter((n) => n.key !== 'leader')];
    const next = await dcs.getCluster();
    expect(next).not.toBe(first);
    expect(first.leaderName).toBe('node1');
    expect(next.leaderName).toBeNull();
  });

  it('a lock refresh that failed because this process stalled mid-call gets one more attempt; a plain failure does not', async () => {
    const store = new MemoryStore();
    const ctx: DcsContext = { name: 'node1', scope: 's', namespace: '/service', basePath: clusterBasePath('service', 's'), ttl: 30, loopWait: 10, retryTimeout: 1, ctl: false };
    const driver = new MemoryDriver(store, ctx);
    let mono = 0;
    const clock = { now: () => Date.now(), monotonic: () => mono };
    const dcs = new Dcs(driver, { ttl: 30, loopWait: 10, retryTimeout: 1 }, clock);
    expect(await dcs.attemptToAcquireLeader()).toBe(true);
    const leader = (await dcs.getCluster()).leader!;
    const real = driver.updateLeader.bind(driver);
    let calls = 0;
    // Stopped for 3 s while the call was out: on waking its deadline had passed.
    driver.updateLeader = async (l) => {
      calls++;
      if (calls === 1) {
        mono += 3000;
        throw new DcsError('update leader: no answer from DCS within 1s', { code: ErrorCodes.DCS_TIMEOUT });
      }
      return real(l);
    };
    expect(await dcs.updateLeader(leader, null)).toBe(true);
    expect(calls).toBe(2);
    // Failing within its deadline (the store refused): reported at once, no second attempt.
    calls = 0;
    driver.updateLeader = async () => {
      calls++;
      throw new DcsError('update leader: connection refused');
    };
    await expect(dcs.updateLeader(leader, null)).rejects.toBeInstanceOf(DcsError);
    expect(calls).toBe(1);
  });

  it('does not write status when the lock refresh fails', async () => {
    const { dcs, writes } = setup();
    const other = setup('node2');
    expect(await dcs.attemptToAcquireLeader()).toBe(true);
    const leader = (await dcs.getCluster()).leader!;
    const d2 = new Dcs(new MemoryDriver(other.store, other.ctx), { ttl: 30, loopWait: 10, retryTimeout: 1 });
    expect(await d2.attemptToAcquireLeader()).toBe(true);
    expect(await new Dcs(new MemoryDriver(other.store, { ...other.ctx, name: 'node3' }), { ttl: 30, loopWait: 10, retryTimeout: 1 }).updateLeader((await d2.getCluster()).leader!, 5)).toBe(false);
    expect(writes).toEqual([]);
    expect(leader.name).toBe('node1');
  });

  it('writes the legacy /optime/leader only while a pre-2.1 member exists', async () => {
    const { dcs, writes, driver } = setup();
    await driver.touchMember({ version: '2.0.2' });
    await dcs.getCluster();
    await dcs.writeStatus({ optime: 5 });
    expect(writes).toContain('writeLeaderOptime:5');
    const fresh = setup();
    await fresh.driver.touchMember({ version: '3.0.2' });
    await fresh.dcs.getCluster();
    await fresh.dcs.writeStatus({ optime: 5 });
    expect(fresh.writes.some((w) => w.startsWith('writeLeaderOptime'))).toBe(false);
  });

  it('deleteLeader records the last LSN first and only deletes my own key', async () => {
    const { dcs, writes } = setup();
    expect(await dcs.deleteLeader(null, 7)).toBe(false);
    expect(writes).toEqual(['writeStatus:{"optime":7}']);
    await dcs.attemptToAcquireLeader();
    const c = await dcs.getCluster();
    expect(await dcs.deleteLeader(c.leader, 8)).toBe(true);
    expect((await dcs.getCluster()).leader).toBeNull();
  });

  it('formats /failover and /sync like Patroni', async () => {
    const { dcs, store } = setup();
    await dcs.manualFailover('a', 'b', { date: new Date('2024-01-01T10:00:00Z'), offsetMinutes: 120 });
    expect(store.get('/service/s/failover')!.value).toBe('{"leader":"a","member":"b","scheduled_at":"2024-01-01T12:00:00+02:00"}');
    await dcs.manualFailover(null, 'b');
    expect(store.get('/service/s/failover')!.value).toBe('{"member":"b"}');
    const s = await dcs.writeSyncState('a', ['c', 'b']);
    expect(store.get('/service/s/sync')!.value).toBe('{"leader":"a","quorum":0,"sync_standby":"b,c"}');
    expect(s!.members).toEqual(['b', 'c']);
    await dcs.writeSyncState('a', []);
    expect(store.get('/service/s/sync')!.value).toBe('{"leader":"a","quorum":0,"sync_standby":null}');
  });

  it('turns an unreachable store into DcsError and a hung one into a timeout, keeping lost CAS as false', async () => {
    const { dcs, store, driver } = setup();
    store.down = true;
    await expect(dcs.getCluster()).rejects.toBeInstanceOf(DcsError);
    expect(dcs.cluster).toBeNull();
    store.down = false;
    expect(await dcs.setConfigValue('{}', 999)).toBe(false);
    driver.loadCluster = () => new Promise(() => {});
    const err = await dcs.getCluster().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DcsError);
    expect((err as DcsError).code).toBe(ErrorCodes.DCS_TIMEOUT);
  });

  it('caches the view for ttl and records lastSeen', async () => {
    const { dcs } = setup();
    expect(dcs.cluster).toBeNull();
    const c = await dcs.getCluster();
    expect(dcs.cluster).toBe(c);
    expect(Math.abs(dcs.lastSeen - Date.now() / 1000)).toBeLessThan(2);
  });

  it('wakeup before a watch makes the next watch return at once', async () => {
    const { dcs } = setup();
    dcs.wakeup();
    const t0 = Date.now();
    expect(await dcs.watch(null, 5)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('a nap runs its time out unless woken; wakeup() ends it at once, before or during it', async () => {
    const { dcs } = setup();
    let t0 = Date.now();
    expect(await dcs.nap(0.2)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    t0 = Date.now();
    setTimeout(() => dcs.wakeup(), 50);
    expect(await dcs.nap(5)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    dcs.wakeup();
    t0 = Date.now();
    expect(await dcs.nap(5)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(await dcs.nap(0.05)).toBe(false); // the early wake was used up
  });

  it('reloadConfig passes new timings to the driver', async () => {
    const { dcs, driver } = setup();
    await dcs.reloadConfig({ ttl: 20, loopWait: 5, retryTimeout: 7 });
    expect([dcs.ttl, dcs.loopWait, dcs.retryTimeout, driver.ttl]).toEqual([20, 5, 7, 20]);
  });
});
