/**
 * DCS conformance kit: a vitest suite any DCS plugin (ours or a third party's) runs against a live
 * backend. It checks the contract the HA loop relies on: single winners, owner-only leader writes,
 * expiry, CAS on versions, watch wake-ups, tolerant reads, cluster removal; a member reads its own
 * writes at once and other members' writes within seconds.
 *
 *   import { runDcsConformance } from '@pgha/core/testing';
 *   runDcsConformance('etcd3', () => ({ create: (o) => makeDriver(o) }));
 */
import { describe, expect, it } from 'vitest';
import { Dcs } from '../dcs/facade.js';
import { clusterBasePath, type DcsContext, type DcsDriver } from '../dcs/driver.js';
import type { Cluster } from '../model/cluster.js';
import { DcsError } from '../errors.js';
import { sleep } from '../util/clock.js';

/**
 * Another member's write shows in this member's view within a few seconds. A driver may serve reads
 * from a watch-fed copy (Patroni's KVCache), which lags another member's write by the watch's delay;
 * a member always sees its own writes at once (asserted without `seen`).
 */
async function seen(dcs: Dcs, ok: (c: Cluster) => boolean, ms = 5000): Promise<Cluster> {
  const until = Date.now() + ms;
  for (;;) {
    const c = await dcs.getCluster();
    if (ok(c) || Date.now() > until) return c;
    await sleep(20);
  }
}

export interface ConformanceTarget {
  /** A driver for member `ctx.name`; the kit closes it. */
  create(ctx: DcsContext): Promise<DcsDriver>;
  /** Write a raw value under the cluster prefix (enables the malformed-member test). */
  putRaw?(ctx: DcsContext, key: string, value: string): Promise<void>;
  /** TTL in seconds for expiry tests (default 3). Use the smallest the backend honours. */
  ttl?: number;
}

let seq = 0;

export function runDcsConformance(label: string, target: () => ConformanceTarget | Promise<ConformanceTarget>): void {
  describe(`DCS conformance: ${label}`, () => {
    const opened: DcsDriver[] = [];

    async function cluster(n: number, opts: { ctl?: boolean } = {}) {
      const t = await target();
      const ttl = t.ttl ?? 3;
      const scope = `conf${process.pid}x${++seq}x${Math.random().toString(36).slice(2, 8)}`;
      const ctxs: DcsContext[] = [];
      const dcs: Dcs[] = [];
      for (let i = 0; i < n; i++) {
        const ctx: DcsContext = {
          name: `node${i + 1}`, scope, namespace: '/service', basePath: clusterBasePath('/service', scope),
          ttl, loopWait: 1, retryTimeout: Math.max(2, Math.floor(ttl / 2)), ctl: !!opts.ctl,
        };
        const driver = await t.create(ctx);
        opened.push(driver);
        ctxs.push(ctx);
        dcs.push(new Dcs(driver, { ttl, loopWait: 1, retryTimeout: ctx.retryTimeout }));
      }
      return { t, ttl, scope, ctxs, dcs };
    }

    async function closeAll() {
      await Promise.allSettled(opened.splice(0).map((d) => d.close()));
    }

    it('exactly one member wins the initialize race', async () => {
      const { dcs } = await cluster(3);
      try {
        const results = await Promise.all(dcs.map((d) => d.initialize(true, '')));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await dcs[winner]!.initialize(false, '7268616322854375442')).toBe(true);
        expect((await seen(dcs[0]!, (c) => c.initialize === '7268616322854375442')).initialize).toBe('7268616322854375442');
        expect(await dcs[(winner + 1) % 3]!.initialize(true, 'x')).toBe(false);
        expect(await dcs[winner]!.cancelInitialization()).toBe(true);
        expect((await seen(dcs[1]!, (c) => c.initialize === null)).initialize).toBeNull();
      } finally { await closeAll(); }
    });

    it('exactly one member acquires a free leader key', async () => {
      const { dcs } = await cluster(3);
      try {
        await Promise.all(dcs.map((d) => d.touchMember({ state: 'running', role: 'replica' })));
        const results = await Promise.all(dcs.map((d) => d.attemptToAcquireLeader()));
        expect(results.filter(Boolean)).toHaveLength(1);
        const c = await seen(dcs[0]!, (x) => x.leaderName !== null);
        expect(c.leaderName).toBe(`node${results.indexOf(true) + 1}`);
        expect(c.leader!.member.data.state).toBe('running');
      } finally { await closeAll(); }
    });

    it('only the owner refreshes or deletes the leader key', async () => {
      const { dcs } = await cluster(2);
      try {
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const leader = (await seen(dcs[1]!, (c) => c.leader !== null)).leader!;
        expect(await dcs[1]!.updateLeader(leader, null)).toBe(false);
        expect(await dcs[1]!.deleteLeader(leader)).toBe(false);
        expect((await dcs[1]!.getCluster()).leaderName).toBe('node1');
        expect(await dcs[0]!.updateLeader(leader, 12345)).toBe(true);
        const after = await seen(dcs[1]!, (c) => c.lastLsn === 12345);
        expect(after.leaderName).toBe('node1');
        expect(after.lastLsn).toBe(12345);
        expect(await dcs[0]!.deleteLeader(after.leader, 23456)).toBe(true);
        const gone = await seen(dcs[1]!, (c) => c.leader === null && c.lastLsn === 23456);
        expect(gone.leader).toBeNull();
        expect(gone.lastLsn).toBe(23456);
      } finally { await closeAll(); }
    });

    it('a refresh after losing the key fails and does not steal it back', async () => {
      const { dcs } = await cluster(2);
      try {
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const leader = (await dcs[0]!.getCluster()).leader!;
        expect(await dcs[0]!.deleteLeader(leader)).toBe(true);
        expect(await dcs[1]!.attemptToAcquireLeader()).toBe(true);
        expect(await dcs[0]!.updateLeader(leader, null)).toBe(false);
        expect((await seen(dcs[0]!, (c) => c.leaderName === 'node2')).leaderName).toBe('node2');
      } finally { await closeAll(); }
    });

    it('a refresh puts back the leader key that expired with its lease if nobody took it; a released key stays released', async () => {
      const { dcs, ttl } = await cluster(2);
      try {
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const leader = (await seen(dcs[1]!, (c) => c.leaderName === 'node1')).leader!;
        await sleep((ttl + 1) * 1000);
        expect((await seen(dcs[1]!, (c) => c.leader === null, 6000)).leader).toBeNull();
        // The first call after an expiry may meet the store's own news of it (a DcsError); the loop
        // would try again on its next cycle.
        let refreshed: boolean | null = null;
        for (let i = 0; i < 3 && refreshed === null; i++) refreshed = await dcs[0]!.updateLeader(leader, null).catch((e) => { if (e instanceof DcsError) return null; throw e; });
        expect(refreshed).toBe(true);
        const back = await seen(dcs[1]!, (c) => c.leaderName === 'node1');
        expect(back.leaderName).toBe('node1');
        expect(dcs[0]!.driver.leaderLeaseSentAt()).not.toBeNull();
        expect(await dcs[0]!.deleteLeader(back.leader)).toBe(true);
        expect(await dcs[0]!.updateLeader(back.leader!, null)).toBe(false);
        // Its own view shows its own writes at once: the failed refresh wrote nothing back.
        expect((await dcs[0]!.getCluster()).leader).toBeNull();
        expect((await seen(dcs[1]!, (c) => c.leader === null)).leader).toBeNull();
      } finally { await closeAll(); }
    });

    it('leader and member keys expire after ttl without refresh', async () => {
      const { dcs, ttl } = await cluster(2);
      try {
        await dcs[0]!.touchMember({ state: 'running' });
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const before = await seen(dcs[1]!, (c) => c.leaderName === 'node1' && c.hasMember('node1'));
        expect(before.leaderName).toBe('node1');
        expect(before.hasMember('node1')).toBe(true);
        // Gone within a few seconds after ttl (that no key goes sooner is the next test's): a store
        // expires on its own clock and schedule (etcd checks every 500 ms and revokes through Raft,
        // slower on a loaded machine).
        await sleep((ttl + 1) * 1000);
        const after = await seen(dcs[1]!, (c) => c.leader === null && !c.hasMember('node1'), 6000);
        expect(after.leader).toBeNull();
        expect(after.hasMember('node1')).toBe(false);
        expect(await dcs[1]!.attemptToAcquireLeader()).toBe(true);
      } finally { await closeAll(); }
    });

    it('the leader lease send time bounds the key\'s expiry (the fence counts from it)', async () => {
      const { dcs, ttl } = await cluster(2);
      const driver = dcs[0]!.driver;
      try {
        expect(driver.leaderLeaseSentAt()).toBeNull();
        const before = performance.now();
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const after = performance.now();
        const sent = driver.leaderLeaseSentAt();
        expect(sent).not.toBeNull();
        expect(sent!).toBeLessThanOrEqual(after);
        expect(sent!).toBeGreaterThan(before - ttl * 1000);
        // Without any refresh the key must still be there just before sent + ttl.
        await sleep(Math.max(0, sent! + ttl * 1000 - 400 - performance.now()));
        expect((await dcs[1]!.getCluster()).leaderName).toBe('node1');
        const leader = (await dcs[0]!.getCluster()).leader!;
        // A lock refresh renews the lease: the instant moves forward.
        expect(await dcs[0]!.updateLeader(leader, null)).toBe(true);
        expect(driver.leaderLeaseSentAt()!).toBeGreaterThan(sent!);
        expect(await dcs[0]!.deleteLeader(leader)).toBe(true);
        expect(driver.leaderLeaseSentAt()).toBeNull();
      } finally { await closeAll(); }
    });

    it('a refreshed leader outlives its ttl', async () => {
      const { dcs, ttl } = await cluster(2);
      try {
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const deadline = Date.now() + (ttl + 2) * 1000;
        while (Date.now() < deadline) {
          const leader = (await dcs[0]!.getCluster()).leader!;
          expect(await dcs[0]!.updateLeader(leader, null)).toBe(true);
          await sleep(Math.min(1000, (ttl * 1000) / 3));
        }
        expect((await dcs[1]!.getCluster()).leaderName).toBe('node1');
      } finally { await closeAll(); }
    });

    it('compare-and-swap with a stale version fails on config, failover and sync', async () => {
      const { dcs } = await cluster(2);
      try {
        expect(await dcs[0]!.setConfigValue('{"ttl":30}')).toBe(true);
        const v1 = (await dcs[0]!.getCluster()).config!;
        expect(v1.data).toEqual({ ttl: 30 });
        expect(await dcs[1]!.setConfigValue('{"ttl":20}', v1.version)).toBe(true);
        expect(await dcs[0]!.setConfigValue('{"ttl":10}', v1.version)).toBe(false);
        expect((await seen(dcs[0]!, (c) => c.config?.data.ttl === 20)).config!.data).toEqual({ ttl: 20 });

        expect(await dcs[0]!.manualFailover('node1', 'node2')).toBe(true);
        const f = (await dcs[0]!.getCluster()).failover!;
        expect([f.leader, f.candidate]).toEqual(['node1', 'node2']);
        expect(await dcs[1]!.manualFailover('', 'node1', null, f.version)).toBe(true);
        expect(await dcs[0]!.manualFailover('', 'node2', null, f.version)).toBe(false);
        expect((await seen(dcs[0]!, (c) => c.failover?.candidate === 'node1')).failover!.candidate).toBe('node1');

        const s1 = await dcs[0]!.writeSyncState('node1', null);
        expect(s1).not.toBeNull();
        const s2 = await dcs[0]!.writeSyncState('node1', ['node2'], s1!.version);
        expect(s2?.members).toEqual(['node2']);
        expect(await dcs[1]!.writeSyncState('node2', null, s1!.version)).toBeNull();
        expect((await seen(dcs[1]!, (c) => c.sync.leader === 'node1')).sync.leader).toBe('node1');
        expect(await dcs[1]!.deleteSyncState(s1!.version)).toBe(false);
        expect(await dcs[1]!.deleteSyncState(s2!.version)).toBe(true);
        expect((await dcs[1]!.getCluster()).sync.isEmpty).toBe(true);
      } finally { await closeAll(); }
    });

    it('watch wakes on leader change and on leader expiry', async () => {
      const { dcs, ttl } = await cluster(2);
      try {
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const leader = (await seen(dcs[1]!, (c) => c.leader !== null)).leader!;
        // deletion by the owner wakes the watcher
        let t0 = Date.now();
        const w1 = dcs[1]!.watch(leader.version, 10);
        await sleep(300);
        await dcs[0]!.deleteLeader(leader);
        expect(await w1).toBe(true);
        expect(Date.now() - t0).toBeLessThan(5000);
        // expiry wakes the watcher well before the watch timeout
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const l2 = (await seen(dcs[1]!, (c) => c.leader !== null)).leader!;
        t0 = Date.now();
        expect(await dcs[1]!.watch(l2.version, ttl + 20)).toBe(true);
        expect(Date.now() - t0).toBeLessThan((ttl + 5) * 1000);
        expect((await seen(dcs[1]!, (c) => c.leader === null)).leader).toBeNull();
        // no change: the watch times out
        t0 = Date.now();
        expect(await dcs[1]!.watch(null, 1)).toBe(false);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
        // wakeup() cuts a watch short
        t0 = Date.now();
        const w3 = dcs[1]!.watch(null, 10);
        await sleep(200);
        dcs[1]!.wakeup();
        expect(await w3).toBe(true);
        expect(Date.now() - t0).toBeLessThan(3000);
      } finally { await closeAll(); }
    });

    it('malformed stored values are read tolerantly', async () => {
      const { dcs, t, ctxs } = await cluster(1);
      try {
        await dcs[0]!.setConfigValue('{');
        await dcs[0]!.setFailoverValue('node1:node2');
        await dcs[0]!.setHistoryValue('[["a"]]');
        await dcs[0]!.driver.setSyncStateValue('[]');
        await dcs[0]!.driver.writeStatus('not json');
        await dcs[0]!.driver.writeFailsafe('{');
        if (t.putRaw) await t.putRaw(ctxs[0]!, 'members/broken', '{');
        // putRaw writes through another client: wait for it like for another member's write.
        const c = await seen(dcs[0]!, (x) => !t.putRaw || x.getMember('broken', false) !== null);
        expect(c.config!.data).toEqual({});
        expect([c.failover!.leader, c.failover!.candidate]).toEqual(['node1', 'node2']);
        expect(c.timeline).toBe(0);
        expect(c.sync.isEmpty).toBe(true);
        expect(c.lastLsn).toBe(0);
        expect(c.failsafe).toBeNull();
        if (t.putRaw) expect(c.getMember('broken', false)!.data).toEqual({});
      } finally { await closeAll(); }
    });

    it('writes Patroni-shaped values that parse back', async () => {
      const { dcs } = await cluster(1);
      try {
        await dcs[0]!.touchMember({ conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'primary', version: '4.0.0', xlog_location: 100, timeline: 2 });
        expect(await dcs[0]!.attemptToAcquireLeader()).toBe(true);
        await dcs[0]!.setHistoryValue('[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","node1"]]');
        await dcs[0]!.writeFailsafe({ node1: 'http://127.0.0.1:8008/patroni' });
        const c = await dcs[0]!.getCluster();
        expect(c.leader!.connKwargs()).toMatchObject({ host: '127.0.0.1', port: 5432, dbname: 'postgres' });
        expect(c.leader!.checkpointAfterPromote).toBe(true);
        expect(c.timeline).toBe(2);
        expect(c.failsafe).toEqual({ node1: 'http://127.0.0.1:8008/patroni' });
        expect(c.members.find((m) => m.name === 'node1')!.lsn).toBe(100);
      } finally { await closeAll(); }
    });

    it('deleteCluster removes the scope and nothing else', async () => {
      const a = await cluster(1);
      const b = await cluster(1);
      try {
        await a.dcs[0]!.initialize(true, '1');
        await a.dcs[0]!.touchMember({ state: 'running' });
        await a.dcs[0]!.setConfigValue('{}');
        await b.dcs[0]!.initialize(true, '2');
        expect(await a.dcs[0]!.deleteCluster()).toBe(true);
        expect((await a.dcs[0]!.getCluster()).isEmpty()).toBe(true);
        expect((await b.dcs[0]!.getCluster()).initialize).toBe('2');
      } finally { await closeAll(); }
    });

    it('a ctl-mode client reads the cluster and edits config without a lease', async () => {
      const agent = await cluster(1);
      const ctl = await target();
      const ctx: DcsContext = { ...agent.ctxs[0]!, name: 'ctl', ctl: true };
      const driver = await ctl.create(ctx);
      opened.push(driver);
      try {
        await agent.dcs[0]!.touchMember({ state: 'running' });
        expect(await agent.dcs[0]!.attemptToAcquireLeader()).toBe(true);
        const c = new Dcs(driver, { ttl: agent.ttl, loopWait: 1, retryTimeout: ctx.retryTimeout });
        const view = await c.getCluster();
        expect(view.leaderName).toBe('node1');
        expect(await c.setConfigValue('{"pause":true}')).toBe(true);
        expect((await seen(agent.dcs[0]!, (c) => c.config?.data.pause === true)).config!.data).toEqual({ pause: true });
      } finally { await closeAll(); }
    });
  });
}
