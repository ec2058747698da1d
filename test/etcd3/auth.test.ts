/** etcd with authentication on: the kit passes as a user limited to /service/, a wrong password is a DcsError. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dcs, DcsError, ErrorCodes } from '@pgha/core';
import { runDcsConformance } from '@pgha/core/testing';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { conformanceTarget, driverFor, sectionFor, testContext, TEST_TTL, uniqueScope } from './harness.js';

const AUTH = { username: 'pgha', password: 's3cret pass' };

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd();
  await etcd.enableAuth(AUTH.username, AUTH.password, '/service/');
});
afterAll(async () => { await etcd?.stop(); });

runDcsConformance('etcd3 (authentication on)', () => conformanceTarget(() => etcd, AUTH));

describe('etcd3 authentication failures', () => {
  const timings = { ttl: TEST_TTL, loopWait: 1, retryTimeout: 2 };

  it('a wrong password fails at once with a DcsError coded as an auth problem', async () => {
    const dcs = new Dcs(driverFor(testContext('node1', uniqueScope('auth')), sectionFor(etcd, { ...AUTH, password: 'wrong' })), timings);
    try {
      const t0 = performance.now();
      const err = await dcs.getCluster().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DcsError);
      expect((err as DcsError).code).toBe(ErrorCodes.DCS_AUTH);
      expect((err as DcsError).message).toMatch(/authentication failed/);
      // Not retried until the deadline: a bad password does not heal.
      expect(performance.now() - t0).toBeLessThan(1500);
    } finally {
      await dcs.close();
    }
  });

  it('after etcd restarts, the leader renews over a new keep-alive connection within retry_timeout', async () => {
    const ctx = testContext('node1', uniqueScope('token'));
    const dcs = new Dcs(driverFor(ctx, sectionFor(etcd, AUTH)), { ttl: 20, loopWait: 1, retryTimeout: 8 });
    try {
      await dcs.touchMember({ state: 'running' });
      expect(await dcs.attemptToAcquireLeader()).toBe(true);
      const leader = (await dcs.getCluster()).leader!;
      await new Promise((r) => setTimeout(r, 1100));
      expect(await dcs.updateLeader(leader, null)).toBe(true);
      // The keep-alive stream's connection dies with etcd; the next renewal opens a new one. (etcd
      // 3.4 checks no token on LeaseKeepAlive, so the refused-token path is covered by the plugin's
      // keepalive-stream.test.ts against a scripted server.)
      await etcd.kill(0);
      await etcd.restart(0);
      await etcd.waitHealthy();
      const r0 = await etcd.metric(0, 'etcd_debugging_lease_renewed_total');
      await new Promise((r) => setTimeout(r, 1100));
      expect(await dcs.updateLeader(leader, null)).toBe(true);
      expect(await etcd.metric(0, 'etcd_debugging_lease_renewed_total')).toBeGreaterThan(r0);
    } finally {
      await dcs.close();
    }
  });

  it('keys outside the granted prefix are refused with a DcsError, not a lost CAS', async () => {
    const ctx = { ...testContext('node1', 'other'), namespace: '/elsewhere', basePath: '/elsewhere/other' };
    const dcs = new Dcs(driverFor(ctx, sectionFor(etcd, AUTH)), timings);
    try {
      const err = await dcs.setConfigValue('{}', 5).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DcsError);
      expect((err as DcsError).code).toBe(ErrorCodes.DCS_AUTH);
    } finally {
      await dcs.close();
    }
  });
});
