/**
 * The session behind the ephemeral znodes, attacked directly: the leader lease bound the fence
 * relies on (leaderLeaseSentAt) against the moment ZooKeeper really drops the znode, with the
 * server granting a shorter, equal and longer timeout than asked; session expiry and recovery; a
 * ttl change that must not let the leader znode lapse; and deadlines with a hung or dead server.
 */
import { DcsError, type DcsContext } from '@pgha/core';
import { createZookeeperDriver, zookeeperConfigSchema, type ZookeeperDriver } from '@pgha/dcs-zookeeper';
import type { Client } from 'node-zookeeper-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { startZookeeper, zk, type ZkEnsemble } from '../helpers/zookeeper.js';
import { driverFor, testContext, uniqueScope } from './harness.js';

// The server grants 2..3 s whatever we ask: ttl 1 gets more, 3 gets it exactly, 5 gets less.
const GRANT = { min: 2000, max: 3000 };
let server: ZkEnsemble;
let raw: Client;
const open: ZookeeperDriver[] = [];

beforeAll(async () => {
  server = await startZookeeper({ sessionTimeoutMs: GRANT });
  raw = await server.rawClient();
});
afterAll(async () => {
  if (raw) await zk.close(raw);
  await server?.stop();
});
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((d) => d.close()));
});

async function driver(ctx: DcsContext): Promise<ZookeeperDriver> {
  const d = await driverFor(ctx, { hosts: [...server.hosts] });
  open.push(d);
  return d;
}

/**
 * Poll the leader znode with a raw client until it is gone. Every read answered before `bound`
 * must still see it (the server processed that read before the bound); returns when the first
 * read saw it absent, as [send time, reply time].
 */
async function watchUntilGone(path: string, bound: number): Promise<[number, number]> {
  for (;;) {
    const sent = performance.now();
    const node = await zk.getData(raw, path);
    const answered = performance.now();
    if (!node) return [sent, answered];
    expect(sent).toBeLessThan(bound + 10_000);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('leaderLeaseSentAt: ZooKeeper cannot drop the leader znode before T + ttl', () => {
  for (const ttl of [1, 3, 5]) {
    it(`ttl ${ttl}s, server grants ${Math.min(Math.max(ttl * 1000, GRANT.min), GRANT.max)} ms`, async () => {
      const scope = uniqueScope('lease');
      const d = await driver(testContext('node1', scope, { ttl, retryTimeout: 2 }));
      expect(d.leaderLeaseSentAt()).toBeNull();
      const before = performance.now();
      expect(await d.attemptToAcquireLeader()).toBe(true);
      const after = performance.now();
      const granted = d.negotiatedTimeoutMs;
      expect(granted).toBe(Math.min(Math.max(ttl * 1000, GRANT.min), GRANT.max));
      // A refresh moves T forward; T is the last answered send shifted by ttl - granted.
      await new Promise((r) => setTimeout(r, 300));
      const first = d.leaderLeaseSentAt()!;
      expect(await d.updateLeader({} as never)).toBe(true);
      const t = d.leaderLeaseSentAt()!;
      expect(t).toBeGreaterThan(first + 250);
      expect(first).toBeGreaterThanOrEqual(before - (ttl * 1000 - granted));
      expect(first).toBeLessThanOrEqual(after - (ttl * 1000 - granted));
      // Now the agent "freezes": no more calls. The znode must outlive T + ttl, and not by much.
      const bound = t + ttl * 1000;
      const [sent, answered] = await watchUntilGone(`/service/${scope}/leader`, bound);
      expect(answered).toBeGreaterThanOrEqual(bound);
      expect(sent).toBeLessThan(bound + 1500);
    }, 30_000);
  }

  it('is null in ctl mode, after deleting the key, and after losing it to another member', async () => {
    const scope = uniqueScope('leasenull');
    const ctl = await driver(testContext('ctl', scope, { ctl: true }));
    expect(await ctl.attemptToAcquireLeader()).toBe(false);
    expect(ctl.leaderLeaseSentAt()).toBeNull();
    const a = await driver(testContext('node1', scope));
    const b = await driver(testContext('node2', scope));
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(a.leaderLeaseSentAt()).not.toBeNull();
    expect(b.leaderLeaseSentAt()).toBeNull();
    expect(await a.deleteLeader(null)).toBe(true);
    expect(a.leaderLeaseSentAt()).toBeNull();
    expect(await b.attemptToAcquireLeader()).toBe(true);
    expect(await a.updateLeader({} as never)).toBe(false);
    expect(a.leaderLeaseSentAt()).toBeNull();
    expect(b.leaderLeaseSentAt()).not.toBeNull();
  });
});

describe('session expiry', () => {
  it('a silent leader loses its session: the watcher wakes, takes over, the old leader cannot refresh and rejoins as a member', async () => {
    const scope = uniqueScope('expiry');
    const a = await driver(testContext('node1', scope, { ttl: 3 }));
    const b = await driver(testContext('node2', scope, { ttl: 3 }));
    expect(await a.touchMember({ state: 'running' })).toBe(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const oldSession = a.sessionId;
    const leader = (await b.loadCluster()).find((n) => n.key === 'leader')!;
    expect(leader.session).toBe(oldSession);
    // b keeps its own session alive while it waits; a says nothing.
    const ac = new AbortController();
    let woke = false;
    const t0 = Date.now();
    while (!woke && Date.now() - t0 < 15_000) {
      woke = await b.watch(leader.version, 1000, ac.signal);
      await b.touchMember({ state: 'running' });
    }
    expect(woke).toBe(true);
    expect((await b.loadCluster()).find((n) => n.key === 'leader')).toBeUndefined();
    expect(await b.attemptToAcquireLeader()).toBe(true);
    // a comes back: its session is gone, so is its right to the key.
    expect(await waitFor(async () => (await a.updateLeader({} as never).catch(() => null)) === false, 10_000, 'a refresh refused')).toBe(true);
    expect(a.leaderLeaseSentAt()).toBeNull();
    expect(await waitFor(() => a.touchMember({ state: 'running' }).catch(() => false), 10_000, 'member recreated')).toBe(true);
    expect(a.sessionId).not.toBe(oldSession);
    const member = (await zk.getData(raw, `/service/${scope}/members/node1`))!;
    expect(member.ephemeralOwner).toBe(a.sessionId);
    expect((await zk.getData(raw, `/service/${scope}/leader`))!.data).toBe('node2');
  }, 40_000);

  it('a leader whose session expired with its znode puts the znode back on its new session if nobody took it (Patroni); one deleted while its session lived stays deleted', async () => {
    const scope = uniqueScope('vanished');
    const path = `/service/${scope}/leader`;
    const a = await driver(testContext('node1', scope, { ttl: 3 }));
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const oldSession = a.sessionId;
    // The loop's last view: the key with my name on the old session. Then an outage longer than ttl.
    const seen = { session: oldSession } as never;
    await waitFor(async () => (await zk.getData(raw, path)) === null, 15_000, 'the leader znode expired with its session');
    expect(await waitFor(async () => (await a.updateLeader(seen).catch(() => null)) === true, 10_000, 'the refresh put the znode back')).toBe(true);
    expect(a.sessionId).not.toBe(oldSession);
    expect(await zk.getData(raw, path)).toMatchObject({ data: 'node1', ephemeralOwner: a.sessionId });
    expect(a.leaderLeaseSentAt()).not.toBeNull();
    // Now deleted on purpose while the session that holds it lives: the refresh fails and leaves it gone.
    await zk.remove(raw, path);
    expect(await a.updateLeader({ session: a.sessionId } as never)).toBe(false);
    expect(a.leaderLeaseSentAt()).toBeNull();
    expect(await zk.getData(raw, path)).toBeNull();
    // Gone with an expired session but taken by another member meanwhile: not touched.
    const b = await driver(testContext('node2', scope, { ttl: 3 }));
    // Nothing renews a's session between these calls (the loop would): under load it may have expired
    // by now, and the call that finds it so fails; the next one opens a new session.
    expect(await waitFor(async () => (await a.attemptToAcquireLeader().catch(() => null)) === true, 10_000, 'a acquired again')).toBe(true);
    const before = a.sessionId;
    await waitFor(async () => (await zk.getData(raw, path)) === null, 15_000, 'the leader znode expired again');
    expect(await waitFor(async () => (await b.attemptToAcquireLeader().catch(() => null)) === true, 10_000, 'b acquired')).toBe(true);
    expect(await waitFor(async () => (await a.updateLeader({ session: before } as never).catch(() => null)) === false, 10_000, 'refresh refused')).toBe(true);
    expect(await zk.getData(raw, path)).toMatchObject({ data: 'node2', ephemeralOwner: b.sessionId });
  }, 60_000);

  it('a ttl change moves the leader znode to a new session without a gap', async () => {
    const scope = uniqueScope('setttl');
    const a = await driver(testContext('node1', scope, { ttl: 3 }));
    await a.touchMember({ state: 'running' });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const before = a.sessionId!;
    const path = `/service/${scope}/leader`;
    let missing = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        if (!(await zk.getData(raw, path))) missing++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      a.setTtl(2);
      expect(await a.updateLeader({} as never)).toBe(true);
      expect(await a.touchMember({ state: 'running' })).toBe(true);
      expect(a.sessionId).not.toBe(before);
      const node = (await zk.getData(raw, path))!;
      expect(node.data).toBe('node1');
      expect(node.ephemeralOwner).toBe(a.sessionId);
      expect((await zk.getData(raw, `/service/${scope}/members/node1`))!.ephemeralOwner).toBe(a.sessionId);
      expect(a.ttl).toBe(2);
      expect(a.negotiatedTimeoutMs).toBe(GRANT.min);
      // The old session was closed once nothing depended on it (its ephemerals went with it): the key stays.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await a.updateLeader({} as never)).toBe(true);
    } finally {
      polling = false;
      await poller;
    }
    expect(missing).toBe(0);
  }, 30_000);
});

describe('ttl changes in a row', () => {
  it('two changes before the next refresh keep the leader znode too', async () => {
    const scope = uniqueScope('setttl2');
    const a = await driver(testContext('node1', scope, { ttl: 3 }));
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const path = `/service/${scope}/leader`;
    a.setTtl(2);
    a.setTtl(4);
    expect((await zk.getData(raw, path))?.data).toBe('node1');
    expect(await a.updateLeader({} as never)).toBe(true);
    expect(await a.touchMember({ state: 'running' })).toBe(true);
    expect((await zk.getData(raw, path))!.ephemeralOwner).toBe(a.sessionId);
    expect(a.negotiatedTimeoutMs).toBe(GRANT.max);
  });
});

describe('leader watch', () => {
  it('notices a takeover between the read and the watch, though the new znode has version 0 again', async () => {
    const scope = uniqueScope('takeover');
    const [a, b, c] = await Promise.all(['node1', 'node2', 'node3'].map((n) => driver(testContext(n, scope, { ttl: 3 }))));
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    const seen = (await b!.loadCluster()).find((n) => n.key === 'leader')!;
    expect(await a!.deleteLeader(null)).toBe(true);
    expect(await c!.attemptToAcquireLeader()).toBe(true);
    expect((await zk.getData(raw, `/service/${scope}/leader`))!.version).toBe(0);
    const t0 = performance.now();
    expect(await b!.watch(seen.version, 5000, new AbortController().signal)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('granted session timeout', () => {
  it('warns when the server grants another timeout than ttl, or one too short for the loop; silent otherwise', async () => {
    const make = async (ttl: number, retryTimeout: number) => {
      const warnings: string[] = [];
      const d = createZookeeperDriver(testContext('node1', uniqueScope('grant'), { ttl, retryTimeout }),
        zookeeperConfigSchema.parse({ hosts: [...server.hosts] }), { warn: (m: unknown) => { warnings.push(String(m)); } });
      open.push(d);
      await d.loadCluster();
      return warnings;
    };
    const clamped = await make(5, 2);
    expect(clamped).toEqual([
      expect.stringContaining('granted a session timeout of 3000 ms instead of ttl 5 s'),
      expect.stringContaining('not longer than loop_wait + retry_timeout (3 s)'),
    ]);
    expect(await make(3, 1)).toEqual([]);
  });
});

describe('short naps', () => {
  it('a watch shorter than a round trip neither fails nor disturbs requests in flight', async () => {
    const scope = uniqueScope('nap');
    const d = await driver(testContext('node1', scope, { ttl: 3 }));
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      // The agent naps for what is left of loop_wait, which may be nothing at all.
      const [woke, wrote] = await Promise.all([d.watch(null, i % 3, ac.signal), d.setConfigValue(`{"i":${i}}`)]);
      expect(woke).toBe(false);
      expect(wrote).toBe(true);
    }
  });
});

describe('deadlines against a hung or dead ZooKeeper', () => {
  let own: ZkEnsemble;
  beforeAll(async () => { own = await startZookeeper(); });
  afterAll(async () => { await own?.stop(); });

  it('every call ends within retry_timeout with a DcsError, and works again once the server is back', async () => {
    const scope = uniqueScope('hung');
    const d = await driverFor(testContext('node1', scope, { ttl: 20, retryTimeout: 2 }), { hosts: own.hosts.join(',') });
    open.push(d);
    expect(await d.touchMember({ state: 'running' })).toBe(true);
    await own.freeze(0, true);
    try {
      for (const call of [() => d.loadCluster(), () => d.attemptToAcquireLeader(), () => d.updateLeader({} as never), () => d.setConfigValue('{}', 0)]) {
        const t0 = performance.now();
        const err = await call().then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(DcsError);
        expect(performance.now() - t0).toBeLessThan(2000 + 500);
      }
    } finally {
      await own.freeze(0, false);
    }
    // Same session (it outlived the 20 s timeout): the member znode is still ours.
    const nodes = await waitFor(() => d.loadCluster().catch(() => null), 10_000, 'reads after the thaw');
    expect(nodes.find((n) => n.key === 'members/node1')?.session).toBe(d.sessionId);
    await own.kill(0);
    const t0 = performance.now();
    await expect(d.loadCluster()).rejects.toBeInstanceOf(DcsError);
    expect(performance.now() - t0).toBeLessThan(2500);
  }, 60_000);
});
