/**
 * The agent lease: keep-alives only when the HA loop calls, at most once per loop_wait; a hung etcd
 * turns calls into DcsErrors within retry_timeout; validity counts from when a keep-alive was sent,
 * so a lease etcd never confirmed is given up after ttl and replaced, with the member key moved.
 */
import { describe, expect, it } from 'vitest';
import { Dcs, DcsError, type Leader } from '@pgha/core';
import { keepAliveTarget } from '../../plugins/dcs-etcd3/src/client.js';
import { KeepAliveChannel } from '../../plugins/dcs-etcd3/src/keepalive-stream.js';
import { waitFor } from '../helpers/procs.js';
import { driverFor, sectionFor, useEtcd, testContext, TEST_TTL, uniqueScope } from './harness.js';

const RETRY_TIMEOUT = 2;
const timings = { ttl: TEST_TTL, loopWait: 1, retryTimeout: RETRY_TIMEOUT };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const env = useEtcd();

const renewals = () => env.etcd().metric(0, 'etcd_debugging_lease_renewed_total');
/** LeaseKeepAlive streams etcd has seen opened (go-grpc-prometheus counter). */
const keepAliveStreams = () => env.etcd().metric(0, 'grpc_server_started_total\\{grpc_method="LeaseKeepAlive"[^}]*\\}');

async function rawLease(key: string): Promise<string | null> {
  const res = await env.raw().kv.range({ key: Buffer.from(key) });
  return res.kvs[0] ? String(res.kvs[0].lease) : null;
}

/** node1 holding the leader key in a new scope; `run` gets the facade, the leader and the scope's path, then it is closed. */
async function asLeader(scope: string, run: (dcs: Dcs, leader: Leader, basePath: string) => Promise<void>): Promise<void> {
  const ctx = testContext('node1', uniqueScope(scope));
  const dcs = new Dcs(driverFor(ctx, sectionFor(env.etcd())), timings);
  try {
    await dcs.touchMember({ state: 'running' });
    expect(await dcs.attemptToAcquireLeader()).toBe(true);
    await run(dcs, (await dcs.getCluster()).leader!, ctx.basePath);
  } finally {
    await dcs.close();
  }
}

/** Unary Txn calls etcd has served. */
const txns = () => env.etcd().metric(0, 'grpc_server_started_total\\{grpc_method="Txn"[^}]*\\}');

describe('etcd3 agent lease', () => {
  // First in the file: a test before it leaves leases whose keys expire, moving etcd's revision.
  it('an idle leader refreshes without a transaction; a write the copy has not applied sends one', async () => {
    await asLeader('quiet', async (dcs, leader, basePath) => {
      const t0 = await txns();
      const r0 = await renewals();
      for (let i = 0; i < 3; i++) {
        await sleep(1100);
        expect(await dcs.updateLeader(leader, null)).toBe(true);
      }
      expect(await renewals()).toBe(r0 + 3);
      expect(await txns()).toBe(t0);
      // As the loop calls at loop_wait 1: about a second apart, sometimes a little less.
      for (let i = 0; i < 3; i++) {
        await sleep(950);
        expect(await dcs.updateLeader(leader, null)).toBe(true);
      }
      expect(await renewals()).toBe(r0 + 6);
      expect(await txns()).toBe(t0);
      // A write outside the scope moves etcd's revision past the copy's: the refresh checks by transaction.
      await env.raw().put(`/elsewhere/${uniqueScope('other')}`).value('x');
      await sleep(1100);
      expect(await dcs.updateLeader(leader, null)).toBe(true);
      expect(await txns()).toBe(t0 + 1);
      // Another client takes the key: the refresh sent right after fails, whichever path it takes.
      await sleep(1100);
      await env.raw().put(`${basePath}/leader`).value('node2');
      expect(await dcs.updateLeader(leader, null)).toBe(false);
    });
  });

  it('the keep-alive stream reads what etcd answers: the TTL and revision of a live lease, TTL 0 once it is revoked', async () => {
    const raw = env.raw();
    const channel = new KeepAliveChannel(keepAliveTarget(raw, { endpoints: { hosts: [...env.etcd().endpoints], secure: false } }));
    try {
      const { ID } = await raw.leaseClient.leaseGrant({ TTL: 30 });
      await raw.put(`/elsewhere/${uniqueScope('rev')}`).value('x');
      const { header } = await raw.leaseClient.leaseTimeToLive({ ID });
      let sentAt = 0;
      const live = await channel.renew(String(ID), Date.now() + 5000, (t) => { sentAt = t; });
      expect(live.ttl).toBe(30);
      expect(live.revision).toBeGreaterThanOrEqual(Number(header.revision));
      expect(sentAt).toBeGreaterThan(0);
      await raw.leaseClient.leaseRevoke({ ID });
      expect((await channel.renew(String(ID), Date.now() + 5000, () => undefined)).ttl).toBe(0);
    } finally {
      channel.close();
    }
  });

  it('a leader whose lease etcd dropped puts its vanished key back if nobody took it; a key deleted while its lease lived stays gone', async () => {
    await asLeader('recreate', async (dcs, leader, basePath) => {
      const key = `${basePath}/leader`;
      /** The loop's view once it shows the key on `lease`. */
      const viewOn = (lease: string | null) => waitFor(async () => {
        const l = (await dcs.getCluster()).leader;
        return l && String(l.session) === lease ? l : null;
      }, 5000, `the view to show the key on lease ${lease}`);
      const l1 = await rawLease(key);
      expect(l1).not.toBeNull();
      // As after an outage longer than ttl: etcd drops the lease and the key with it. The refresh
      // finds the lease gone, gets a new one and puts the key back on it.
      await env.raw().leaseClient.leaseRevoke({ ID: l1! });
      expect(await rawLease(key)).toBeNull();
      await sleep(1100);
      expect(await dcs.updateLeader(leader, null)).toBe(true);
      const l2 = await rawLease(key);
      expect(l2).not.toBeNull();
      expect(l2).not.toBe(l1);
      expect(await env.raw().get(key).string()).toBe('node1');
      // The same when the member touch replaced the lease first: the view's key is on a lease that
      // is no longer mine.
      const onL2 = await viewOn(l2);
      await env.raw().leaseClient.leaseRevoke({ ID: l2! });
      await sleep(1100);
      expect(await dcs.touchMember({ state: 'running' })).toBe(true);
      expect(await dcs.updateLeader(onL2, null)).toBe(true);
      const l3 = await rawLease(key);
      expect(l3).not.toBeNull();
      expect(l3).not.toBe(l2);
      // Deleted by someone while the lease it was on (mine) is alive: released on purpose, not put back.
      const onL3 = await viewOn(l3);
      await env.raw().delete().key(key);
      await sleep(1100);
      expect(await dcs.updateLeader(onL3, null)).toBe(false);
      expect(await rawLease(key)).toBeNull();
    });
  });

  it('sends at most one keep-alive per loop_wait, however often the loop calls', async () => {
    await asLeader('rate', async (dcs, leader) => {
      const r0 = await renewals();
      for (let i = 0; i < 5; i++) {
        await dcs.touchMember({ state: 'running' });
        expect(await dcs.updateLeader(leader, null)).toBe(true);
      }
      expect(await renewals()).toBe(r0);
      await sleep(1100);
      for (let i = 0; i < 3; i++) expect(await dcs.updateLeader(leader, null)).toBe(true);
      expect(await renewals()).toBe(r0 + 1);
    });
  });

  it('renewals go over one long-lived keep-alive stream, not a new call each', async () => {
    await asLeader('stream', async (dcs, leader) => {
      const r0 = await renewals();
      const s0 = await keepAliveStreams();
      for (let i = 0; i < 3; i++) {
        await sleep(1100);
        expect(await dcs.updateLeader(leader, null)).toBe(true);
      }
      expect(await renewals()).toBe(r0 + 3);
      // The first renewal may open the stream (the grant does not); the next two reuse it.
      expect(await keepAliveStreams()).toBeLessThanOrEqual(s0 + 1);
      expect(await keepAliveStreams()).toBeGreaterThan(0);
    });
  });

  it('a hung etcd: DcsError within retry_timeout, lease given up after ttl, then replaced', async () => {
    const scope = uniqueScope('hung');
    const driver = driverFor(testContext('node1', scope), sectionFor(env.etcd()));
    const dcs = new Dcs(driver, timings);
    try {
      await dcs.touchMember({ state: 'running', role: 'primary' });
      expect(await dcs.attemptToAcquireLeader()).toBe(true);
      const leader = (await dcs.getCluster()).leader!;
      const oldLease = driver.leaseId;
      expect(oldLease).not.toBeNull();
      await sleep(1100); // past loop_wait, so the next refresh sends a keep-alive

      await env.etcd().freeze(0, true);
      try {
        const t0 = performance.now();
        const err = await dcs.updateLeader(leader, null).catch((e: unknown) => e);
        expect(err, `got ${String(err)}`).toBeInstanceOf(DcsError);
        expect(performance.now() - t0).toBeLessThan(RETRY_TIMEOUT * 1000 + 500);
        // Reads come from the watch-fed copy until the channel's keep-alive (6 s + 2 s) finds the
        // member hung and drops the stream; then a range read runs into the hung etcd: DcsError.
        const t1 = performance.now();
        let readErr: unknown = null;
        while (readErr === null && performance.now() - t1 < 8000 + RETRY_TIMEOUT * 1000 + 1000) {
          readErr = await dcs.getCluster().then(() => null, (e: unknown) => e);
          if (readErr === null) await sleep(200);
        }
        expect(readErr, `got ${String(readErr)}`).toBeInstanceOf(DcsError);
        // Over ttl since the last keep-alive was sent: no longer claimed, though etcd never said so.
        await sleep(500);
        expect(driver.leaseId).toBeNull();
      } finally {
        await env.etcd().freeze(0, false);
      }

      // Back: a new lease, the member key moved onto it (the old lease's expiry cannot take it).
      const kept = await dcs.updateLeader(leader, null);
      const newLease = driver.leaseId;
      expect(newLease).not.toBeNull();
      expect(newLease).not.toBe(oldLease);
      expect(await rawLease(`/service/${scope}/members/node1`)).toBe(newLease);
      // The leader key survives only if etcd had not expired the old lease yet; then it moved too.
      if (kept) expect(await rawLease(`/service/${scope}/leader`)).toBe(newLease);
      // Once etcd has revoked the old lease, the member key is still there on the new one.
      await sleep(1500);
      expect(await rawLease(`/service/${scope}/members/node1`)).toBe(newLease);
      expect((await dcs.getCluster()).hasMember('node1')).toBe(true);
    } finally {
      await dcs.close();
    }
  });

  it('a new ttl grants a new lease and moves the leader key onto it', async () => {
    const scope = uniqueScope('ttl');
    const driver = driverFor(testContext('node1', scope), sectionFor(env.etcd()));
    const dcs = new Dcs(driver, timings);
    try {
      await dcs.touchMember({ state: 'running' });
      expect(await dcs.attemptToAcquireLeader()).toBe(true);
      const oldLease = driver.leaseId;
      await dcs.reloadConfig({ ttl: TEST_TTL + 2 });
      expect(driver.ttl).toBe(TEST_TTL + 2);
      const leader = (await dcs.getCluster()).leader!;
      expect(await dcs.updateLeader(leader, null)).toBe(true);
      expect(driver.leaseId).not.toBe(oldLease);
      expect(await rawLease(`/service/${scope}/leader`)).toBe(driver.leaseId);
      expect(await rawLease(`/service/${scope}/members/node1`)).toBe(driver.leaseId);
      const ttl = await env.raw().leaseClient.leaseTimeToLive({ ID: driver.leaseId! });
      expect(Number(ttl.grantedTTL)).toBe(TEST_TTL + 2);
    } finally {
      await dcs.close();
    }
  });
});
