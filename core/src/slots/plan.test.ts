import { describe, expect, it } from 'vitest';
import type { DesiredSlot } from './desired.js';
import { isIgnored, planSlots, type SlotPlanInput, type SlotRow } from './plan.js';

const phys = (name: string, o: Partial<SlotRow> = {}): SlotRow => ({
  name, type: 'physical', plugin: null, database: null, active: false, xmin: null, catalogXmin: null, restartLsn: 100, confirmedFlushLsn: null, walStatus: 'reserved', ...o,
});
const logi = (name: string, o: Partial<SlotRow> = {}): SlotRow => ({
  ...phys(name), type: 'logical', plugin: 'test_decoding', database: 'app', restartLsn: 50, confirmedFlushLsn: 100, catalogXmin: '700', ...o,
});
const cdc = (lsn?: number): DesiredSlot => ({ type: 'logical', database: 'app', plugin: 'test_decoding', ...(lsn === undefined ? {} : { lsn }) });
const input = (o: Partial<SlotPlanInput>): SlotPlanInput => ({
  desired: {}, existing: [], isPrimary: true, paused: false, ignore: [], majorVersion: 150000, replayLsn: null, cleanInactivePhysical: true, ...o,
});

describe('planSlots', () => {
  const rows: Array<[string, Partial<SlotPlanInput>, unknown[], string[]?]> = [
    ['creates missing physical and logical slots on the primary',
      { desired: { b: { type: 'physical', expectedActive: true }, cdc: cdc() } },
      [{ op: 'create_physical', name: 'b' }, { op: 'create_logical', name: 'cdc', database: 'app', plugin: 'test_decoding' }]],
    ['drops unknown slots, not in pause, not when ignored',
      { existing: [phys('old'), logi('ext', { plugin: 'wal2json' })], ignore: [{ plugin: 'wal2json' }] },
      [{ op: 'drop', name: 'old', reason: 'unknown replication slot' }]],
    ['in pause nothing unknown is dropped', { existing: [phys('old')], paused: true }, []],
    ['a slot whose WAL is lost is dropped and created again',
      { desired: { b: { type: 'physical', expectedActive: true } }, existing: [phys('b', { walStatus: 'lost' })] },
      [{ op: 'drop', name: 'b', reason: 'wal_status=lost' }, { op: 'create_physical', name: 'b' }]],
    ['a logical slot whose plugin changed is dropped and created again',
      { desired: { cdc: cdc() }, existing: [logi('cdc', { plugin: 'pgoutput' })] },
      [{ op: 'drop', name: 'cdc', reason: 'configuration changed to logical app/test_decoding' }, { op: 'create_logical', name: 'cdc', database: 'app', plugin: 'test_decoding' }]],
    ['inactive physical copies are advanced to the published position, never backwards',
      { isPrimary: false, desired: { a: { type: 'physical', lsn: 900, expectedActive: false }, c: { type: 'physical', lsn: 50, expectedActive: false } }, existing: [phys('a'), phys('c')] },
      [{ op: 'advance_physical', name: 'a', lsn: 900 }]],
    ['an active member slot is left to its walsender',
      { desired: { b: { type: 'physical', lsn: 900, expectedActive: true } }, existing: [phys('b', { active: true })] }, []],
    ['an inactive copy holding xmin is dropped and recreated; kept while there is no leader',
      { isPrimary: false, desired: { a: { type: 'physical', lsn: 900, expectedActive: false } }, existing: [phys('a', { xmin: '1234' })] },
      [{ op: 'drop', name: 'a', reason: 'inactive copy holds xmin 1234' }, { op: 'create_physical', name: 'a' }]],
    ['an xmin-holding copy is kept without a leader', { isPrimary: false, cleanInactivePhysical: false, desired: { a: { type: 'physical', lsn: 900, expectedActive: false } }, existing: [phys('a', { xmin: '1' })] }, []],
    ['a physical slot without restart_lsn (made by someone else) is dropped',
      { isPrimary: false, desired: { a: { type: 'physical', lsn: 900, expectedActive: false } }, existing: [phys('a', { restartLsn: null })] },
      [{ op: 'drop', name: 'a', reason: 'no restart_lsn (created by someone else without reserving WAL)' }]],
    ['PostgreSQL 10 never advances', { majorVersion: 100000, isPrimary: false, desired: { a: { type: 'physical', lsn: 900, expectedActive: false } }, existing: [phys('a')] }, []],
    ['replica: a logical copy is advanced to the published position, but not past replay',
      { isPrimary: false, replayLsn: 400, desired: { cdc: cdc(1000) }, existing: [logi('cdc')] },
      [{ op: 'advance_logical', name: 'cdc', database: 'app', lsn: 400 }]],
    ['replica: a logical copy already there is left alone', { isPrimary: false, replayLsn: 4000, desired: { cdc: cdc(100) }, existing: [logi('cdc')] }, []],
    ['replica: no position known, no advance, no copy', { isPrimary: false, replayLsn: 4000, desired: { cdc: cdc() } }, []],
  ];
  it.each(rows)('%s', (_n, o, ops) => {
    expect(planSlots(input(o)).ops).toEqual(ops);
  });

  it('replica: a logical slot the primary publishes but this node lacks is copied (also after a mismatch drop)', () => {
    expect(planSlots(input({ isPrimary: false, replayLsn: 10, desired: { cdc: cdc(5), x: cdc() } })).copy).toEqual(['cdc']);
    const changed = planSlots(input({ isPrimary: false, replayLsn: 10, desired: { cdc: cdc(5) }, existing: [logi('cdc', { database: 'other' })] }));
    expect(changed.ops).toEqual([{ op: 'drop', name: 'cdc', reason: 'configuration changed to logical app/test_decoding' }]);
    expect(changed.copy).toEqual(['cdc']);
    expect(planSlots(input({ isPrimary: true, desired: { cdc: cdc(5) } })).copy).toEqual([]);
  });

  it('replica: a copy that can no longer be advanced (WAL gone, invalidated) is copied again, not advanced', () => {
    const lost = planSlots(input({ isPrimary: false, replayLsn: 4000, desired: { cdc: cdc(1000) }, existing: [logi('cdc')], lostCopies: ['cdc'] }));
    expect(lost).toEqual({ ops: [], copy: ['cdc'] });
    // Without a published position there is nothing to copy it from.
    expect(planSlots(input({ isPrimary: false, replayLsn: 4000, desired: { cdc: cdc() }, existing: [logi('cdc')], lostCopies: ['cdc'] }))).toEqual({ ops: [], copy: [] });
  });
});

describe('ignore_slots matches on any subset of name, type, database and plugin', () => {
  const slot = { name: 'debezium', type: 'logical' as const, database: 'app', plugin: 'pgoutput' };
  it.each([
    [{ name: 'debezium' }, true], [{ type: 'logical' }, true], [{ database: 'app', plugin: 'pgoutput' }, true],
    [{ name: 'debezium', type: 'physical' }, false], [{ database: 'other' }, false], [{ name: 'x' }, false],
    [{}, true], [{ name: 'debezium', type: 'logical', database: 'app', plugin: 'pgoutput' }, true],
  ])('%o -> %s', (m, want) => {
    expect(isIgnored(slot, [m])).toBe(want);
  });
});
