import { describe, expect, it } from 'vitest';
import { buildCluster } from './cluster-builder.js';
import { StatusSlots, memberSlotsTtlOf } from './status-slots.js';

const member = (name: string, tags: Record<string, unknown> = {}) => ({ key: `members/${name}`, version: 1, value: JSON.stringify({ conn_url: `postgres://h/${name}`, api_url: `http://h/${name}`, state: 'running', role: 'replica', tags }) });
const cluster = (config: Record<string, unknown>, names: Array<[string, Record<string, unknown>?]>) => buildCluster([
  { key: 'config', version: 1, value: JSON.stringify(config) },
  { key: 'leader', version: 1, value: 'node1' },
  ...names.map(([n, t]) => member(n, t)),
]);

describe('/status slots and retain_slots (Patroni 4.1 update_leader)', () => {
  const perm = { permanent_slots: { keepme: { type: 'physical' }, logi: { type: 'logical', database: 'postgres', plugin: 'pgoutput' } } };
  const c = cluster(perm, [['node1'], ['node2'], ['node3', { nostream: true }]]);
  const slots = { node2: 500, node3: 400, keepme: 300, logi: 200, stray: 100 };

  it.each([
    ['member_slots_ttl default (1800): every slot, mine at my LSN; retain member slots only (not permanent, not nostream)',
      {}, { node2: 500, node3: 400, keepme: 300, logi: 200, stray: 100, node1: 900 }, ['node1', 'node2']],
    ['member_slots_ttl 0: permanent slots only, as Patroni 3', { member_slots_ttl: 0 }, { keepme: 300, logi: 200 }, null],
  ])('%s', (_what, cfg, want, retain) => {
    const cl = cluster({ ...perm, ...cfg }, [['node1'], ['node2'], ['node3', { nostream: true }]]);
    const v = new StatusSlots().build({ cluster: cl, myName: 'node1', slots, lastLsn: 900, memberSlotsTtl: memberSlotsTtlOf(cl), now: 1000 });
    expect(v.slots).toEqual(want);
    expect(v.retainSlots).toEqual(retain);
  });

  it('a member slot stays retained member_slots_ttl seconds after its member key is gone, then expires', () => {
    const s = new StatusSlots();
    s.build({ cluster: c, myName: 'node1', slots, lastLsn: 900, memberSlotsTtl: 60, now: 1000 });
    const gone = cluster(perm, [['node1']]);
    expect(s.build({ cluster: gone, myName: 'node1', slots: {}, lastLsn: 900, memberSlotsTtl: 60, now: 1059 }).retainSlots).toEqual(['node1', 'node2']);
    expect(s.build({ cluster: gone, myName: 'node1', slots: {}, lastLsn: 900, memberSlotsTtl: 60, now: 1060 }).retainSlots).toEqual(['node1']);
  });

  it('unread slots (PostgreSQL < 11 or not running) publish no slots; retention still expires', () => {
    const s = new StatusSlots();
    s.reset(['node2'], 1000);
    expect(s.build({ cluster: c, myName: 'node1', slots: null, lastLsn: 900, memberSlotsTtl: 30, now: 1010 })).toEqual({ slots: null, retainSlots: ['node2'] });
    expect(s.build({ cluster: c, myName: 'node1', slots: null, lastLsn: 900, memberSlotsTtl: 30, now: 1030 })).toEqual({ slots: null, retainSlots: null });
  });

  it('member_slots_ttl is read as Patroni does: seconds, default 1800', () => {
    expect(memberSlotsTtlOf(cluster({}, []))).toBe(1800);
    expect(memberSlotsTtlOf(cluster({ member_slots_ttl: '0' }, []))).toBe(0);
    expect(memberSlotsTtlOf(cluster({ member_slots_ttl: 120 }, []))).toBe(120);
    expect(memberSlotsTtlOf(cluster({ member_slots_ttl: 'junk' }, []))).toBe(1800);
  });
});
