/**
 * The DCS conformance kit against three Raft members in this process, talking real TCP on
 * 127.0.0.1 with password authentication; member nodeN's driver sits on Raft member N, and the
 * ctl-mode driver is a TCP client of the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDcsConformance } from '../../core/src/testing/conformance.js';
import { RaftDriver } from '../../plugins/dcs-raft/src/driver.js';
import { RemoteKv } from '../../plugins/dcs-raft/src/net/remote-kv.js';
import { startRaftMember, type RaftMemberHandle } from '../../plugins/dcs-raft/src/runtime.js';
import { memberIndex, raftConfigs, type TestCluster } from './cluster.js';

const PASSWORD = 'conformance-secret';
let cluster: TestCluster;
let handles: RaftMemberHandle[] = [];

beforeAll(async () => {
  cluster = await raftConfigs(3, { password: PASSWORD });
  handles = await Promise.all(cluster.configs.map((c) => startRaftMember(c)));
});

afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  cluster.removeDirs();
});

runDcsConformance('raft (3 in-process members over TCP)', () => ({
  ttl: 2,
  create: async (ctx) => {
    if (ctx.ctl) return new RaftDriver(new RemoteKv(cluster.addrs, PASSWORD), ctx);
    // The members outlive the kit's drivers: closing a driver must not stop its member.
    return new RaftDriver(handles[memberIndex(ctx.name, 3)]!.member, ctx, async () => {});
  },
  putRaw: async (ctx, key, value) => {
    await handles[0]!.member.submit({ op: 'set', key: `${ctx.basePath}/${key}`, value, ttlMs: null }, 5000);
  },
}));

describe('raft peer authentication', () => {
  it('a client with the wrong password is refused', async () => {
    const wrong = new RemoteKv([cluster.addrs[0]!], 'not-the-password');
    try {
      await expect(wrong.list('/', 1500)).rejects.toThrow(/authentication|password/);
    } finally {
      await wrong.close();
    }
  });

  it('a client with the right password reads through any member', async () => {
    await handles[1]!.member.submit({ op: 'set', key: '/auth-check', value: 'x', ttlMs: null }, 5000);
    for (const addr of cluster.addrs) {
      const kv = new RemoteKv([addr], PASSWORD);
      try {
        expect((await kv.list('/auth-check', 5000)).map((e) => e.value)).toEqual(['x']);
      } finally {
        await kv.close();
      }
    }
  });
});
