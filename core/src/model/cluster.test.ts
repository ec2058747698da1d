import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';
import { Member } from './member.js';
import { ClusterConfig, Leader } from './values.js';

const member = (name: string, data: Record<string, unknown> = {}) =>
  Member.fromNode(1, name, null, JSON.stringify({ conn_url: `postgres://${name}:5432/postgres`, state: 'running', ...data }));

function cluster(opts: { members?: Member[]; leader?: string; config?: Record<string, unknown> | null } = {}) {
  const members = opts.members ?? [member('a'), member('b'), member('c')];
  const leaderMember = members.find((m) => m.name === opts.leader);
  return new Cluster({
    members,
    leader: leaderMember ? new Leader(1, null, leaderMember) : null,
    config: opts.config === null ? null : ClusterConfig.fromNode(1, JSON.stringify(opts.config ?? {})),
  });
}

describe('Cluster basics', () => {
  it('knows its leader and members', () => {
    const c = cluster({ leader: 'a' });
    expect(c.isUnlocked()).toBe(false);
    expect(c.leaderName).toBe('a');
    expect(c.hasMember('b')).toBe(true);
    expect(c.getMember('zzz')).toBe(c.leader);
    expect(c.getMember('zzz', false)).toBeNull();
    expect(new Cluster().isEmpty()).toBe(true);
    expect(c.isEmpty()).toBe(false);
  });

  it('clones from a running clonefrom member (not me, not the leader), else the leader', () => {
    const members = [member('a'), member('b', { tags: { clonefrom: true } }), member('c', { tags: { clonefrom: true }, state: 'stopped' }), member('d', { tags: { clonefrom: true } })];
    const c = cluster({ members, leader: 'a' });
    expect(c.getCloneMember('x', () => 0)!.name).toBe('b');
    expect(c.getCloneMember('x', () => 0.99)!.name).toBe('d');
    expect(c.getCloneMember('b', () => 0)!.name).toBe('d');
    const noClone = cluster({ leader: 'a' });
    expect(noClone.getCloneMember('b')!.name).toBe('a');
    expect(cluster().getCloneMember('b')).toBeNull();
  });

  it('reports the lowest patroni version', () => {
    const c = cluster({ members: [member('a', { version: '3.0.2' }), member('b', { version: '2.1.0' }), member('c')] });
    expect(c.minVersion).toEqual([2, 1, 0]);
  });
});

describe('replication slots', () => {
  it('on the primary: a slot per member except those cascading from another existing member', () => {
    const members = [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b' } }), member('d', { tags: { replicatefrom: 'gone' } })];
    const c = cluster({ members, leader: 'a' });
    expect(Object.keys(c.getReplicationSlots('a', 'primary', false, 150000)).sort()).toEqual(['b', 'd']);
    // a replica manages slots only for members cascading from it
    expect(Object.keys(c.getReplicationSlots('b', 'replica', false, 150000))).toEqual(['c']);
  });

  it('needs use_slots (and a config) to manage any slot', () => {
    expect(cluster({ leader: 'a', config: null }).getReplicationSlots('a', 'primary', false, 150000)).toEqual({});
    expect(cluster({ leader: 'a', config: { postgresql: { use_slots: false } } }).getReplicationSlots('a', 'primary', false, 150000)).toEqual({});
  });

  it('merges permanent physical and logical slots, never a physical slot for myself', () => {
    const config = { slots: { a: { type: 'physical' }, keep: null, ldb: { database: 'db', plugin: 'pgoutput' }, 'Bad-Name': {} } };
    const c = cluster({ leader: 'a', config });
    const errors: string[] = [];
    const slots = c.getReplicationSlots('a', 'primary', false, 150000, { errors });
    expect(slots).toMatchObject({ b: { type: 'physical' }, c: { type: 'physical' }, keep: { type: 'physical' }, ldb: { type: 'logical', database: 'db', plugin: 'pgoutput' } });
    expect(slots.a).toBeUndefined();
    expect(errors.some((e) => e.includes("Invalid permanent replication slot name 'Bad-Name'"))).toBe(true);
    // before PostgreSQL 11 logical permanent slots are disabled (and reported when asked)
    const old: string[] = [];
    expect(c.getReplicationSlots('a', 'primary', false, 100000, { showError: true, errors: old }).ldb).toBeUndefined();
    expect(old.some((e) => e.includes('ldb'))).toBe(true);
    // nofailover members get no permanent slots
    expect(c.getReplicationSlots('b', 'replica', true, 150000)).toEqual({});
  });

  it('in a standby cluster only physical permanent slots count', () => {
    const c = cluster({ leader: 'a', config: { slots: { p: {}, l: { database: 'd', plugin: 'x' } } } });
    expect(Object.keys(c.getReplicationSlots('a', 'standby_leader', false, 150000, { isStandbyCluster: true }))).toContain('p');
    expect(c.getReplicationSlots('a', 'standby_leader', false, 150000, { isStandbyCluster: true }).l).toBeUndefined();
  });

  it('filters permanent slots and detects them', () => {
    const c = cluster({ leader: 'a', config: { slots: { p: {}, l: { database: 'd', plugin: 'x' }, b: { database: 'd', plugin: 'x' } } } });
    expect(c.filterPermanentSlots({ p: 1, l: 2, b: 3, other: 4 }, false, 150000)).toEqual({ p: 1, l: 2 });
    expect(c.hasPermanentSlots('b')).toBe(true);
    expect(cluster({ leader: 'a', config: {} }).hasPermanentSlots('b')).toBe(false);
  });

  it('finds my slot on the primary through a cascade, and survives loops', () => {
    const members = [member('p'), member('i'), member('l', { tags: { replicatefrom: 'i' } }), member('x', { tags: { replicatefrom: 'y' } }), member('y', { tags: { replicatefrom: 'x' } })];
    const c = cluster({ members, leader: 'p' });
    expect(c.getMySlotNameOnPrimary('l', 'i')).toBe('i');
    expect(c.getMySlotNameOnPrimary('i', null)).toBe('i');
    expect(c.getMySlotNameOnPrimary('q', null)).toBe('q');
    expect(['x', 'y']).toContain(c.getMySlotNameOnPrimary('x', 'y'));
  });

  it('enforces hot_standby_feedback when logical slots exist here or downstream', () => {
    const members = [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b' } })];
    const withLogical = cluster({ members, leader: 'a', config: { slots: { l: { database: 'd', plugin: 'x' } } } });
    expect(withLogical.shouldEnforceHotStandbyFeedback('b', false)).toBe(true);
    expect(withLogical.shouldEnforceHotStandbyFeedback('c', true)).toBe(false);
    const none = cluster({ members, leader: 'a', config: {} });
    expect(none.shouldEnforceHotStandbyFeedback('b', false)).toBe(false);
  });
});
