/**
 * Real members (TCP, FileStorage) losing and regaining state: a stopped member whose missing
 * entries were compacted away catches up from the leader's snapshot; a whole-cluster restart keeps
 * every committed key; a member with the wrong password cannot join.
 */
import { afterEach, describe, expect, it } from 'vitest';
// The same module instance the driver throws from (the built package).
import { clusterBasePath, DcsError, type DcsContext } from '@pgha/core';
import { RaftDriver } from '../../plugins/dcs-raft/src/driver.js';
import type { KvChange } from '../../plugins/dcs-raft/src/kv/commands.js';
import { startRaftMember, type RaftMemberHandle } from '../../plugins/dcs-raft/src/runtime.js';
import { waitFor } from '../helpers/procs.js';
import { raftConfigs, type TestCluster } from './cluster.js';

let cluster: TestCluster | null = null;
let handles: (RaftMemberHandle | null)[] = [];

afterEach(async () => {
  await Promise.all(handles.map((h) => h?.close()));
  handles = [];
  cluster?.removeDirs();
  cluster = null;
});

const leaderOf = () => waitFor(() => handles.find((h) => h?.member.node.isLeader) ?? null, 10_000, 'a raft leader');

describe('raft catch-up', () => {
  it('a restarted member catches up from a snapshot when the log was compacted', async () => {
    cluster = await raftConfigs(3, { snapshot_every: 20 });
    handles = await Promise.all(cluster.configs.map((c) => startRaftMember(c)));
    const leader = await leaderOf();
    const lagger = handles.findIndex((h) => h !== leader);
    await leader.member.submit({ op: 'set', key: '/k/first', value: 'x', ttlMs: null }, 5000);
    await waitFor(() => handles[lagger]!.member.state.get('/k/first'), 5000, 'replication to the lagger');
    await handles[lagger]!.close();
    handles[lagger] = null;

    for (let i = 0; i < 100; i++) expect((await leader.member.submit({ op: 'set', key: `/k/${i}`, value: String(i), ttlMs: null }, 5000)).ok).toBe(true);
    expect(leader.member.node.core.snapshotIndex).toBeGreaterThan(80);

    const restarted = await startRaftMember(cluster.configs[lagger]!);
    handles[lagger] = restarted;
    const causes: string[] = [];
    restarted.member.state.events.on('change', (c: KvChange) => causes.push(c.cause));
    await waitFor(() => restarted.member.state.get('/k/99'), 10_000, 'the restarted member to catch up');
    // Entries it missed no longer exist in the leader's log: it must have installed a snapshot.
    expect(causes).toContain('snapshot');
    expect(restarted.member.state.list('/k/')).toHaveLength(101);
    // And it serves linearizable reads again.
    expect((await restarted.member.list('/k/99', 5000)).map((e) => e.value)).toEqual(['99']);
  });

  it('a whole-cluster restart keeps every committed key (term, vote, log and snapshot on disk)', async () => {
    cluster = await raftConfigs(3, { snapshot_every: 10 });
    handles = await Promise.all(cluster.configs.map((c) => startRaftMember(c)));
    const leader = await leaderOf();
    for (let i = 0; i < 25; i++) await leader.member.submit({ op: 'set', key: `/p/${i}`, value: String(i), ttlMs: null }, 5000);
    const termBefore = leader.member.node.core.term;
    await Promise.all(handles.map((h) => h!.close()));
    handles = await Promise.all(cluster.configs.map((c) => startRaftMember(c)));
    const again = await leaderOf();
    expect(again.member.node.core.term).toBeGreaterThan(termBefore);
    const keys = await again.member.list('/p/', 5000);
    expect(keys.map((e) => e.value).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it('a member configured with the wrong password gets nothing', async () => {
    cluster = await raftConfigs(3, { password: 'right' });
    const configs = cluster.configs.map((c, i) => (i === 2 ? { ...c, password: 'wrong' } : c));
    handles = await Promise.all(configs.map((c) => startRaftMember(c)));
    const leader = await leaderOf();
    expect(leader).not.toBe(handles[2]);
    await leader.member.submit({ op: 'set', key: '/secret', value: 'v', ttlMs: null }, 5000);
    await waitFor(() => handles.filter((h) => h!.member.state.get('/secret')).length === 2, 5000, 'replication to the authenticated peer');
    await new Promise((r) => setTimeout(r, 1000));
    expect(handles[2]!.member.state.get('/secret')).toBeUndefined();
    expect(handles[2]!.member.node.isLeader).toBe(false);
  });

  it('without a quorum the driver throws DcsError within retry_timeout; a lost CAS is false, not an error', async () => {
    cluster = await raftConfigs(3);
    handles = await Promise.all(cluster.configs.map((c) => startRaftMember(c)));
    const ctx = (name: string): DcsContext => ({ name, scope: 'q', namespace: '/service', basePath: clusterBasePath('/service', 'q'), ttl: 5, loopWait: 1, retryTimeout: 2, ctl: false });
    const d1 = new RaftDriver(handles[0]!.member, ctx('node1'), async () => {});
    const d2 = new RaftDriver(handles[1]!.member, ctx('node2'), async () => {});
    expect(await d1.attemptToAcquireLeader()).toBe(true);
    expect(await d2.attemptToAcquireLeader()).toBe(false);
    expect(await d2.updateLeader({} as never)).toBe(false);
    expect(await d2.setConfigValue('{}', 999_999)).toBe(false);

    await handles[1]!.close();
    await handles[2]!.close();
    handles[1] = handles[2] = null;
    const started = Date.now();
    await expect(d1.touchMember({ state: 'running' })).rejects.toBeInstanceOf(DcsError);
    await expect(d1.loadCluster()).rejects.toBeInstanceOf(DcsError);
    expect(Date.now() - started).toBeLessThan(2 * 2000 + 500);
  });
});
