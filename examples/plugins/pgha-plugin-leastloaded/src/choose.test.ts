import type { MemberView } from '@pgha/plugin-api';
import { describe, expect, it } from 'vitest';
import { eligibleReplicas, pickLeastLoaded } from './choose.js';
import { parseProgress } from './basebackup.js';

const member = (name: string, o: Partial<MemberView> = {}): MemberView => ({
  name, role: 'replica', state: 'running', connUrl: `postgres://h/${name}`, apiUrl: `http://h/${name}`, lsn: 1000, isLeader: false, tags: {},
  connKwargs: () => ({}), ...o,
});

describe('choosing the clone source', () => {
  it('considers only running replicas other than me and the leader, reachable by libpq and REST', () => {
    const members = [member('leader', { role: 'primary', isLeader: true }), member('me'), member('a'), member('b', { state: 'starting' }),
      member('c', { apiUrl: null }), member('d', { tags: { clonefrom: false } })];
    expect(eligibleReplicas(members, 'me').map((m) => m.name)).toEqual(['a']);
  });

  it('picks the fewest walsenders, then the most recent WAL, skipping unreachable and lagging replicas', () => {
    const p = (name: string, walsenders: number | null, lsn: number) => ({ member: member(name, { lsn }), walsenders });
    expect(pickLeastLoaded([p('a', 2, 1000), p('b', 1, 900), p('c', 1, 950)], 1000, 100)?.member.name).toBe('c');
    expect(pickLeastLoaded([p('a', null, 1000), p('b', 0, 10)], 1000, 100)).toBeNull();
    expect(pickLeastLoaded([], 1000, 100)).toBeNull();
  });

  it('parses pg_basebackup --progress lines', () => {
    expect(parseProgress('23456/46912 kB (50%), 0/1 tablespace')).toEqual({ bytesDone: 23456 * 1024, bytesTotal: 46912 * 1024, percent: 50 });
    expect(parseProgress('waiting for checkpoint')).toBeNull();
  });
});
