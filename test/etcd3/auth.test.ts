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
