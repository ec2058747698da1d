/**
 * `auth_data` is honoured: a cluster znode readable only with digest credentials is out of reach
 * of a driver without them (a DcsError, nothing silently empty) and fully usable with them.
 */
import { createHash } from 'node:crypto';
import { DcsError } from '@pgha/core';
import zookeeper from 'node-zookeeper-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ZookeeperDriver } from '@pgha/dcs-zookeeper';
import { connectClient, zk } from '../helpers/zookeeper.js';
import { driverFor, testContext, uniqueScope, useZookeeper } from './harness.js';

const server = useZookeeper(1);
const open: ZookeeperDriver[] = [];
afterEach(async () => { await Promise.allSettled(open.splice(0).map((d) => d.close())); });

async function lockedScope(user: string, password: string): Promise<string> {
  const scope = uniqueScope('auth');
  const c = await connectClient(server().hosts.join(','));
  try {
    c.addAuthInfo('digest', Buffer.from(`${user}:${password}`));
    await new Promise<void>((resolve, reject) => c.mkdirp('/service', (e) => (e ? reject(e) : resolve())));
    const digest = createHash('sha1').update(`${user}:${password}`).digest('base64');
    const acl = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', `${user}:${digest}`))];
    await new Promise<void>((resolve, reject) => c.create(`/service/${scope}`, Buffer.alloc(0), acl, zookeeper.CreateMode.PERSISTENT, (e) => (e ? reject(e) : resolve())));
  } finally {
    await zk.close(c);
  }
  return scope;
}

describe('zookeeper auth_data', () => {
  it('reads and writes an ACL-protected cluster only with the digest credentials', async () => {
    const scope = await lockedScope('pgha', 's3cret');
    const anon = await driverFor(testContext('node1', scope), { hosts: server().hosts.join(',') });
    open.push(anon);
    await expect(anon.loadCluster()).rejects.toBeInstanceOf(DcsError);
    await expect(anon.touchMember({ state: 'running' })).rejects.toBeInstanceOf(DcsError);

    const wrong = await driverFor(testContext('node1', scope), { hosts: server().hosts.join(','), auth_data: { digest: 'pgha:wrong' } });
    open.push(wrong);
    await expect(wrong.loadCluster()).rejects.toBeInstanceOf(DcsError);

    const authed = await driverFor(testContext('node1', scope), { hosts: server().hosts.join(','), auth_data: [['digest', 'pgha:s3cret']] });
    open.push(authed);
    expect(await authed.touchMember({ state: 'running' })).toBe(true);
    expect(await authed.attemptToAcquireLeader()).toBe(true);
    expect(await authed.setConfigValue('{"ttl":30}')).toBe(true);
    const nodes = await authed.loadCluster();
    expect(nodes.map((n) => n.key).sort()).toEqual(['config', 'leader', 'members/node1']);
  });
});
