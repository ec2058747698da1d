import { describe, expect, it } from 'vitest';
import { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { ClusterConfig, Leader, Status } from '../model/values.js';
import { desiredSlots, needsHotStandbyFeedback, slotNameOnPrimary, withSlotRequirements, type SlotNode } from './desired.js';

const member = (name: string, data: Record<string, unknown> = {}) =>
  Member.fromNode(1, name, null, JSON.stringify({ conn_url: `postgres://${name}:5432/postgres`, state: 'running', version: '4.1.0', ...data }));

function cluster(o: { members?: Member[]; leader?: string; config?: Record<string, unknown>; slots?: Record<string, number>; retain?: string[] } = {}) {
  const members = o.members ?? [member('a'), member('b'), member('c')];
  const lm = members.find((m) => m.name === (o.leader ?? 'a'));
  return new Cluster({
    members, leader: lm ? new Leader(1, null, lm) : null,
    config: ClusterConfig.fromNode(1, JSON.stringify(o.config ?? {})),
    status: new Status(100, o.slots ?? null, o.retain ?? null),
  });
}
const node = (name: string, role: SlotNode['role'], o: Partial<SlotNode> = {}): SlotNode =>
  ({ name, role, nofailover: false, majorVersion: 150000, memberSlotsTtl: 1800, ...o });
const PERMANENT = { slots: { cdc: { type: 'logical', database: 'app', plugin: 'test_decoding' }, keep: { type: 'physical' }, a: null } };

describe('desiredSlots (Patroni 4.1 get_replication_slots)', () => {
  const rows: Array<[string, () => Record<string, unknown>, Record<string, unknown>]> = [
    ['primary, member_slots_ttl on: a slot per member, active ones expected active, positions from /status',
      () => desiredSlots(cluster({ slots: { b: 500 } }), node('a', 'primary')),
      { b: { type: 'physical', lsn: 500, expectedActive: true }, c: { type: 'physical', lsn: 0, expectedActive: true } }],
    ['replica, member_slots_ttl on: copies of the other members slots, not expected active',
      () => desiredSlots(cluster({ slots: { a: 900, c: 700 } }), node('b', 'replica')),
      { a: { type: 'physical', lsn: 900, expectedActive: false }, c: { type: 'physical', lsn: 700, expectedActive: false } }],
    ['replica, member_slots_ttl 0: only members cascading from it',
      () => desiredSlots(cluster({ members: [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b' } })] }), node('b', 'replica', { memberSlotsTtl: 0 })),
      { c: { type: 'physical', lsn: 0, expectedActive: true } }],
    ['primary, member_slots_ttl 0: not for members cascading from another member; nostream members never',
      () => desiredSlots(cluster({ members: [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b' } }), member('d', { tags: { nostream: true } })] }), node('a', 'primary', { memberSlotsTtl: 0 })),
      { b: { type: 'physical', lsn: 0, expectedActive: true } }],
    ['cascading member: the leader advances its slot from the member position (xlog_location)',
      () => desiredSlots(cluster({ members: [member('a'), member('b'), member('c', { xlog_location: 4000, tags: { replicatefrom: 'b' } })], slots: { c: 10 } }), node('a', 'primary')),
      { b: { type: 'physical', lsn: 0, expectedActive: true }, c: { type: 'physical', lsn: 4000, expectedActive: false } }],
    ['retain_slots keep an absent member slot; never my own',
      () => desiredSlots(cluster({ members: [member('a'), member('b')], retain: ['b', 'gone', 'a'] }), node('a', 'primary')),
      { b: { type: 'physical', lsn: 0, expectedActive: true }, gone: { type: 'physical' } }],
    ['permanent slots: logical with its published position, physical, and none named after me',
      () => desiredSlots(cluster({ members: [member('a')], config: PERMANENT, slots: { cdc: 1234, keep: 99 } }), node('a', 'primary')),
      { cdc: { type: 'logical', database: 'app', plugin: 'test_decoding', lsn: 1234 }, keep: { type: 'physical', lsn: 99, expectedActive: true } }],
    ['permanent slots on a replica: physical ones not expected active',
      () => desiredSlots(cluster({ members: [member('a'), member('b')], config: PERMANENT, slots: { cdc: 1234 } }), node('b', 'replica')),
      { a: { type: 'physical', lsn: 0, expectedActive: false }, cdc: { type: 'logical', database: 'app', plugin: 'test_decoding', lsn: 1234 }, keep: { type: 'physical', expectedActive: false } }],
    ['nofailover: no permanent slots, and member slots only for members cascading from it',
      () => desiredSlots(cluster({ members: [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b' } })], config: PERMANENT }), node('b', 'replica', { nofailover: true })),
      { c: { type: 'physical', lsn: 0, expectedActive: true } }],
    ['nostream: physical permanent slots only',
      () => desiredSlots(cluster({ members: [member('a')], config: PERMANENT }), node('b', 'replica', { nostream: true })),
      { a: { type: 'physical', lsn: 0, expectedActive: false }, keep: { type: 'physical', expectedActive: false } }],
    ['cluster_type: a standby-only slot is not created in a primary cluster',
      () => desiredSlots(cluster({ members: [member('a')], config: { slots: { s1: { type: 'physical', cluster_type: 'standby' }, s2: { type: 'physical', cluster_type: 'primary' } } } }), node('a', 'primary')),
      { s2: { type: 'physical', expectedActive: true } }],
    ['use_slots false: nothing',
      () => desiredSlots(cluster({ config: { ...PERMANENT, postgresql: { use_slots: false } } }), node('a', 'primary')), {}],
    ['PostgreSQL 10: no logical permanent slots, no copies of member slots',
      () => desiredSlots(cluster({ config: PERMANENT }), node('b', 'replica', { majorVersion: 100000 })), {}],
    ['an lsn written into the configuration is never trusted',
      () => desiredSlots(cluster({ members: [member('a')], config: { slots: { x: { type: 'physical', lsn: 5 } } } }), node('a', 'primary')),
      { x: { type: 'physical', expectedActive: true } }],
  ];
  it.each(rows)('%s', (_name, run, expected) => {
    expect(run()).toEqual(expected);
  });

  it('reports invalid names, bad values and conflicts instead of acting on them', () => {
    const errors: string[] = [];
    const c = cluster({ members: [member('a'), member('b')], config: { slots: { 'Bad-Name': null, b: { type: 'logical', database: 'x', plugin: 'y' }, weird: 'x' } } });
    expect(desiredSlots(c, node('a', 'primary'), errors)).toEqual({ b: { type: 'physical', lsn: 0, expectedActive: true } });
    expect(errors).toHaveLength(3);
    expect(errors.join('\n')).toMatch(/Invalid permanent replication slot name 'Bad-Name'[\s\S]*conflicting[\s\S]*Bad value for slot 'weird'/);
  });
});

describe('slotNameOnPrimary, hot_standby_feedback', () => {
  it('follows the cascade to the member that streams from the primary; nostream or a loop means none', () => {
    const c = cluster({ members: [member('a'), member('b', { tags: { replicatefrom: 'c' } }), member('c', { tags: { replicatefrom: 'b' } }), member('d', { tags: { replicatefrom: 'e' } }), member('e')] });
    expect(slotNameOnPrimary(c, 'd', { replicatefrom: 'e' })).toBe('e');
    expect(slotNameOnPrimary(c, 'b', { replicatefrom: 'c' })).toBeNull();
    expect(slotNameOnPrimary(c, 'x', { nostream: true })).toBeNull();
  });

  it('turns hot_standby_feedback on where logical slots must be kept (and for their cascade source)', () => {
    const c = cluster({ members: [member('a'), member('b'), member('c', { tags: { replicatefrom: 'b', nofailover: false } })], config: PERMANENT });
    expect(needsHotStandbyFeedback(c, node('b', 'replica'))).toBe(true);
    expect(needsHotStandbyFeedback(cluster({ config: {} }), node('b', 'replica'))).toBe(false);
    expect(needsHotStandbyFeedback(c, node('b', 'replica', { nofailover: true }))).toBe(true); // c cascades from b and keeps logical slots
    expect(withSlotRequirements({ parameters: { x: 1 } }, true)).toEqual({ parameters: { x: 1, hot_standby_feedback: 'on' } });
    expect(withSlotRequirements({ parameters: { x: 1 } }, false)).toEqual({ parameters: { x: 1 } });
  });
});
