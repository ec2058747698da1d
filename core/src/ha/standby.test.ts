/**
 * Standby cluster decisions as table tests with Patroni's messages: the lock holder is a standby
 * leader that follows the remote source and never promotes, whatever the situation.
 */
import { describe, expect, it } from 'vitest';
import { RemoteMember } from '../model/member.js';
import { decide } from './decide.js';
import { publishedRole } from './memory.js';
import { followSlot, isStandbySection, remoteMember, remoteReplicaMethods, standbyOverrides } from './standby-source.js';
import { crashedPrimary, emptyPg, runningPrimary, runningReplica, scenario, stoppedReplica, type ScenarioOpts } from './scenario.js';
import type { Action, Plan } from './types.js';

const desc = (a: Action) => ('mode' in a ? `${a.type}:${a.mode}` : 'remote' in a && a.remote ? `${a.type}${'role' in a ? `:${a.role}` : ''}:remote` : 'role' in a ? `${a.type}:${a.role}` : a.type);
const kinds = (p: Plan | undefined) => (p ? p.actions.map(desc) : null);
const standby = { standbyCluster: true };
const asStandbyLeader = runningReplica;
const wasStandbyLeader = { role: 'standby_leader' as const };

interface Row { name: string; s: ScenarioOpts; message: string | RegExp; actions: string[]; fail?: string; failActions?: string[] }

const rows: Row[] = [
  { name: 'the standby leader keeps following the remote', s: { pg: asStandbyLeader, memory: wasStandbyLeader, settings: standby }, message: 'no action. I am (node1), the standby leader with the lock', actions: ['update_lock', 'follow:remote'], fail: 'not promoting because failed to update leader lock in DCS', failActions: [] },
  { name: 'a lock holder in recovery becomes the standby leader, never promotes', s: { pg: runningReplica, settings: standby }, message: 'promoted self to a standby leader because i had the session lock', actions: ['update_lock', 'follow:remote'] },
  { name: 'a primary holding the lock (demote-cluster) stops, keeping the lock', s: { pg: runningPrimary, settings: standby }, message: 'cannot be a real primary in standby cluster', actions: ['update_lock', 'demote:offline'], fail: 'demoted self because failed to update leader lock in DCS', failActions: ['demote:immediate-nolock'] },
  { name: 'paused primary holding the lock keeps running', s: { pg: runningPrimary, settings: { ...standby, paused: true } }, message: 'PAUSE: continue to run as primary without lock', actions: ['update_lock'] },
  { name: 'a member follows the standby leader', s: { me: 'node2', settings: standby }, message: 'no action. I am (node2), a secondary, and following a standby leader (node1)', actions: ['follow'] },
  { name: 'a primary without the lock demotes', s: { me: 'node2', pg: runningPrimary, settings: standby }, message: 'cannot be a real primary in a standby cluster', actions: ['demote:immediate-nolock'] },
  { name: 'no standby leader: the healthiest takes the lock and follows the remote', s: { me: 'node2', leader: null, settings: standby }, message: 'promoted self to a standby leader by acquiring session lock', actions: ['acquire_lock', 'follow:remote'], fail: 'following new leader after trying and failing to obtain lock', failActions: ['follow'] },
  { name: 'no standby leader, not the healthiest: follow the remote meanwhile', s: { me: 'node2', leader: null, peers: [{ name: 'node1', walPosition: 5000 }, { name: 'node3' }], settings: standby }, message: 'following a different leader because i am not the healthiest node', actions: ['follow:remote'] },
  { name: 'empty cluster: race for /initialize and clone the remote', s: { leader: null, initialize: null, pg: emptyPg, settings: standby }, message: 'trying to bootstrap a new standby leader', actions: ['race_initialize', 'bootstrap_standby_leader'], fail: 'failed to acquire initialize lock', failActions: [] },
  { name: 'being initialized by another member: wait for the standby leader', s: { me: 'node2', leader: null, initialize: '', pg: emptyPg, settings: standby }, message: 'waiting for standby_leader to bootstrap', actions: [] },
  { name: 'a new member clones the standby leader', s: { me: 'node2', pg: emptyPg, settings: standby }, message: "trying to bootstrap from leader 'node1'", actions: ['clone'] },
  { name: 'bootstrap finished: publish the standby cluster without a primary role change', s: { leader: null, memory: { bootstrap: 'started' }, pg: asStandbyLeader, settings: standby }, message: 'initialized a new standby cluster', actions: ['finish_bootstrap'] },
  { name: 'stopped lock holder starts as the standby leader', s: { pg: stoppedReplica, settings: standby }, message: 'starting as a standby leader because i had the session lock', actions: ['update_lock', 'start:standby_leader:remote'] },
  { name: 'a stopped former primary checks its timeline against the remote first', s: { pg: crashedPrimary, settings: standby }, message: 'checking whether the timeline of node1 diverged from the remote primary', actions: ['update_lock', 'check_rewind:remote'] },
  { name: 'diverged: pg_rewind from the remote', s: { pg: crashedPrimary, memory: { rewind: 'need_rewind', demoted: true }, settings: standby }, message: 'running pg_rewind from the remote primary', actions: ['update_lock', 'rewind:remote'] },
  { name: 'not diverged: start as the standby leader', s: { pg: crashedPrimary, memory: { rewind: 'not_needed', demoted: true }, settings: standby }, message: 'starting as a standby leader because i had the session lock', actions: ['update_lock', 'start:standby_leader:remote'] },
  { name: 'no leader and stopped: follow the remote', s: { me: 'node2', leader: null, pg: stoppedReplica, settings: standby }, message: 'trying to follow a remote member because standby cluster is unhealthy', actions: ['start:replica:remote'] },
  { name: 'a cascading member that stopped streaming checks its timeline against the remote', s: { me: 'node2', members: [['node1', { timeline: 2 }], 'node2', 'node3'], pg: { receiverStreaming: false }, settings: standby }, message: 'checking whether the timeline of node2 diverged from node1', actions: ['check_rewind:remote'] },
  { name: 'a diverged cascading member rewinds from the remote (a standby leader cannot serve pg_rewind)', s: { me: 'node2', members: [['node1', { timeline: 2 }], 'node2', 'node3'], pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'need_rewind' }, settings: standby }, message: 'running pg_rewind from node1', actions: ['rewind:remote'] },
  { name: 'a stopped former primary that is not the lock holder rewinds from the remote', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'need_rewind', demoted: true }, settings: standby }, message: 'running pg_rewind from node1', actions: ['rewind:remote'] },
  { name: 'stopped member with a standby leader starts as a secondary', s: { me: 'node2', pg: stoppedReplica, settings: standby }, message: 'starting as a secondary', actions: ['start:replica'] },
];

describe('standby cluster decisions', () => {
  for (const r of rows) {
    it(r.name, () => {
      const p = decide(scenario(r.s)).plan;
      if (typeof r.message === 'string') expect(p.message).toBe(r.message);
      else expect(p.message).toMatch(r.message);
      expect(kinds(p)).toEqual(r.actions);
      if (r.fail !== undefined) {
        expect(p.onFail?.message).toBe(r.fail);
        expect(kinds(p.onFail)).toEqual(r.failActions);
      }
    });
  }

  it('no situation makes a standby cluster promote (adversarial sweep)', () => {
    const pgs = [runningPrimary, runningReplica, asStandbyLeader, stoppedReplica, crashedPrimary, emptyPg];
    const flat = (p: Plan | undefined): string[] => (p ? [...p.actions.map((a) => a.type), ...flat(p.onFail), ...flat(p.onDcsError)] : []);
    for (const pg of pgs) for (const leader of ['node1', 'node2', null]) for (const failover of [null, { leader: 'node1', member: 'node1' }, { member: 'node1' }]) {
      for (const extra of [{}, { paused: true }, { failsafeMode: true }]) {
        const p = decide(scenario({ pg, leader, failover, settings: { ...standby, ...extra } })).plan;
        expect(flat(p), JSON.stringify({ pg, leader, failover, extra })).not.toContain('promote');
        expect(p.actions.filter((a) => a.type === 'start' && a.role === 'primary')).toEqual([]);
      }
    }
  });

  it('the role is standby_leader in memory (member key, GET /patroni) while the lock holder follows the remote, and only then', () => {
    const becomes = decide(scenario({ pg: runningReplica, memory: { role: 'replica' }, settings: standby }));
    expect(becomes.memory.role).toBe('standby_leader');
    expect(publishedRole(becomes.memory, 'replica', false)).toBe('standby_leader');
    expect(decide(scenario({ pg: runningReplica, memory: wasStandbyLeader, settings: standby })).memory.role).toBe('standby_leader');
    expect(decide(scenario({ dcsDown: true, pg: runningReplica, memory: wasStandbyLeader, settings: standby })).memory.role).toBe('standby_leader');
    // Lost the lock, or no longer a standby cluster: a replica (until it promotes).
    expect(decide(scenario({ me: 'node2', pg: runningReplica, memory: wasStandbyLeader, settings: standby })).memory.role).toBe('replica');
    expect(decide(scenario({ pg: runningReplica, memory: wasStandbyLeader })).memory.role).toBe('replica');
    expect(publishedRole({ ...becomes.memory, role: 'standby_leader' }, 'primary', false)).toBe('primary');
  });

  it('removing standby_cluster makes the standby leader promote (the DC switchover path)', () => {
    const p = decide(scenario({ pg: runningReplica, memory: { role: 'standby_leader' } })).plan;
    expect(p.message).toBe('promoted self to leader because I had the session lock');
    expect(kinds(p)).toEqual(['update_lock', 'promote']);
  });
});

describe('the remote source', () => {
  const section = { host: '10.0.0.9', port: 5433, primary_slot_name: 'dc2', restore_command: 'cp /a/%f %p', archive_cleanup_command: 'clean %r', recovery_min_apply_delay: '5min', create_replica_methods: ['basebackup'] };

  it('is a usable section only with host, port or restore_command', () => {
    expect(isStandbySection(section)).toBe(true);
    expect(isStandbySection({ restore_command: 'x' })).toBe(true);
    expect(isStandbySection({ primary_slot_name: 'x' })).toBe(false);
    expect(isStandbySection({ host: '' })).toBe(false);
    expect(isStandbySection(null)).toBe(false);
    expect(remoteMember({ primary_slot_name: 'x' })).toBeNull();
  });

  it('connects to host/port, streams from primary_slot_name, carries the standby settings', () => {
    const r = remoteMember(section)!;
    expect(r).toBeInstanceOf(RemoteMember);
    expect(r.connKwargs()).toMatchObject({ host: '10.0.0.9', port: '5433' });
    expect(r.connUrl).toMatch(/^postgresql:\/\/10\.0\.0\.9:5433\/?$/);
    expect(followSlot(r)).toBe('dc2');
    expect(followSlot(remoteMember({ host: 'h' }))).toBeNull();
    expect(followSlot(null)).toBeUndefined();
    expect(remoteReplicaMethods(section)).toEqual(['basebackup']);
    expect(remoteReplicaMethods({ host: 'h' })).toBeUndefined();
  });

  it('restore_command and archive_cleanup_command apply to every member, recovery_min_apply_delay to the standby leader only', () => {
    const r = remoteMember(section)!;
    expect(standbyOverrides(section, r)).toEqual({ restore_command: 'cp /a/%f %p', archive_cleanup_command: 'clean %r', recovery_min_apply_delay: '5min' });
    const local = scenario().cluster!.leader!;
    expect(standbyOverrides(section, local)).toEqual({ restore_command: 'cp /a/%f %p', archive_cleanup_command: 'clean %r' });
    expect(standbyOverrides(null, r)).toEqual({});
  });
});
