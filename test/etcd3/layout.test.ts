/**
 * Byte compatibility with Patroni: the keys and exact values the driver writes, read back raw with
 * the etcd3 client, and values written the way Patroni writes them, read by the driver.
 */
import { describe, expect, it } from 'vitest';
import { buildCluster, Dcs, type DcsNode } from '@pgha/core';
import { driverFor, sectionFor, useEtcd, testContext, TEST_TTL, uniqueScope } from './harness.js';

const timings = { ttl: TEST_TTL, loopWait: 1, retryTimeout: 2 };

const env = useEtcd();

/** Every key under the prefix, as etcd stores it. */
async function rawKeys(prefix: string) {
  const res = await env.raw().kv.range({ key: Buffer.from(prefix), range_end: Buffer.from(prefix.slice(0, -1) + '0') });
  return new Map(res.kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), mod: Number(kv.mod_revision), lease: String(kv.lease) }]));
}

describe('etcd3 key layout and values', () => {
  it('writes Patroni keys with Patroni values, leader and member on one lease', async () => {
    const scope = uniqueScope('layout');
    const driver = driverFor(testContext('node1', scope), sectionFor(env.etcd()));
    const dcs = new Dcs(driver, timings);
    const member = { conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'primary', version: '4.0.0', xlog_location: 100, timeline: 2, tags: { nofailover: false } };
    const history = '[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","node1"]]';
    try {
      expect(await dcs.initialize(true, '')).toBe(true);
      expect(await dcs.initialize(false, '7268616322854375442')).toBe(true);
      expect(await dcs.setConfigValue('{"ttl":30,"loop_wait":10,"retry_timeout":10,"postgresql":{"use_pg_rewind":true}}')).toBe(true);
      expect(await dcs.touchMember(member)).toBe(true);
      expect(await dcs.attemptToAcquireLeader()).toBe(true);
      const leader = (await dcs.getCluster()).leader!;
      expect(await dcs.updateLeader(leader, 25624000, { node2: 25623960 }, { node1: 'http://127.0.0.1:8008/patroni' })).toBe(true);
      expect(await dcs.writeSyncState('node1', ['node3', 'node2'])).not.toBeNull();
      expect(await dcs.manualFailover('node1', 'node2', null)).toBe(true);
      expect(await dcs.setHistoryValue(history)).toBe(true);

      const base = `/service/${scope}/`;
      const keys = await rawKeys(base);
      const values = Object.fromEntries([...keys].map(([k, v]) => [k.slice(base.length), v.value]));
      expect(values).toEqual({
        initialize: '7268616322854375442',
        config: '{"ttl":30,"loop_wait":10,"retry_timeout":10,"postgresql":{"use_pg_rewind":true}}',
        leader: 'node1',
        'members/node1': JSON.stringify(member),
        // Patroni 4.1: the leader's own slot at its LSN, and the member slots it retains.
        status: '{"optime":25624000,"slots":{"node2":25623960,"node1":25624000},"retain_slots":["node1"]}',
        failsafe: '{"node1":"http://127.0.0.1:8008/patroni"}',
        sync: '{"leader":"node1","quorum":0,"sync_standby":"node2,node3"}',
        failover: '{"leader":"node1","member":"node2"}',
        history,
      });

      // One lease (the agent's) carries exactly the leader and member keys.
      const lease = driver.leaseId;
      expect(lease).toMatch(/^[1-9]\d*$/);
      for (const [k, v] of keys) {
        const bound = k.endsWith('/leader') || k.endsWith('/members/node1');
        expect({ k, lease: v.lease }).toEqual({ k, lease: bound ? lease : '0' });
      }

      // Raw nodes parse with the core model to what the driver reports; version = mod_revision, session = lease.
      const nodes: DcsNode[] = [...keys].map(([k, v]) => ({ key: k.slice(base.length), value: v.value, version: v.mod, session: v.lease === '0' ? null : v.lease }));
      const fromRaw = buildCluster(nodes);
      const viaDriver = await dcs.getCluster();
      expect(fromRaw.leaderName).toBe('node1');
      expect(fromRaw.leader!.session).toBe(lease);
      expect(fromRaw.config!.version).toBe(keys.get(`${base}config`)!.mod);
      expect(viaDriver.config!.version).toBe(fromRaw.config!.version);
      expect(viaDriver.leader!.version).toBe(keys.get(`${base}leader`)!.mod);
      expect(viaDriver.leader!.session).toBe(lease);
      expect(viaDriver.sync.members).toEqual(['node2', 'node3']);
      expect(viaDriver.lastLsn).toBe(25624000);
      expect(viaDriver.slots).toEqual({ node2: 25623960, node1: 25624000 });
      expect(viaDriver.timeline).toBe(2);
      expect(viaDriver.initialize).toBe('7268616322854375442');
      expect(viaDriver.getMember('node1', false)!.data).toEqual(member);
    } finally {
      await dcs.close();
    }
  });

  it('reads a cluster written the way Patroni writes it', async () => {
    const scope = uniqueScope('patroni');
    const base = `/service/${scope}`;
    const lease = await env.raw().lease(TEST_TTL + 10, { autoKeepAlive: false }).grant();
    await env.raw().put(`${base}/initialize`).value('7268616322854375442');
    await env.raw().put(`${base}/config`).value('{"ttl":30,"pause":true}');
    await env.raw().put(`${base}/members/postgresql0`).value('{"conn_url":"postgres://10.0.0.1:5432/postgres","api_url":"http://10.0.0.1:8008/patroni","state":"running","role":"primary","version":"3.3.1","xlog_location":67420024,"timeline":5}').lease(lease);
    await env.raw().put(`${base}/leader`).value('postgresql0').lease(lease);
    await env.raw().put(`${base}/status`).value('{"optime":67420024,"slots":{"postgresql1":67420000}}');
    await env.raw().put(`${base}/history`).value('[[4,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00"]]');
    await env.raw().put(`${base}/failover`).value('{"leader":"postgresql0","member":"postgresql1","scheduled_at":"2030-01-01T12:00:00+00:00"}');
    const dcs = new Dcs(driverFor(testContext('postgresql1', scope), sectionFor(env.etcd())), timings);
    try {
      const c = await dcs.getCluster();
      expect(c.initialize).toBe('7268616322854375442');
      expect(c.config!.data).toEqual({ ttl: 30, pause: true });
      expect(c.leaderName).toBe('postgresql0');
      expect(c.leader!.session).toBe(lease);
      expect(c.leader!.connKwargs()).toMatchObject({ host: '10.0.0.1', port: 5432 });
      expect(c.lastLsn).toBe(67420024);
      expect(c.timeline).toBe(5);
      expect([c.failover!.leader, c.failover!.candidate]).toEqual(['postgresql0', 'postgresql1']);
      // Another agent's lease keeps its keys: ours cannot take or refresh that leader key.
      expect(await dcs.attemptToAcquireLeader()).toBe(false);
      expect(await dcs.updateLeader(c.leader!, null)).toBe(false);
      expect(await dcs.deleteLeader(c.leader)).toBe(false);
    } finally {
      await dcs.close();
      await env.raw().leaseClient.leaseRevoke({ ID: lease });
    }
  });
});
