/** decide() plans slot maintenance (Patroni's step 13) from the slots PostgreSQL reported, after the cycle's own work. */
import { describe, expect, it } from 'vitest';
import { decide } from '../ha/decide.js';
import { crashedPrimary, runningPrimary, runningReplica, scenario, type ScenarioOpts } from '../ha/scenario.js';
import type { Action } from '../ha/types.js';
import type { SlotRow } from './plan.js';

const row = (name: string, o: Partial<SlotRow> = {}): SlotRow => ({
  name, type: 'physical', plugin: null, database: null, active: true, xmin: null, catalogXmin: null, restartLsn: 1000, confirmedFlushLsn: null, walStatus: 'reserved', ...o,
});
const CDC = { slots: { cdc: { type: 'logical', database: 'app', plugin: 'test_decoding' } }, ttl: 30 };
const primary = { ...runningPrimary, serverVersion: 150010, slots: [row('node2'), row('node3')] };
const replica = { ...runningReplica, serverVersion: 150010, replayLsn: 5000, slots: [row('node1', { active: false }), row('node3', { active: false })] };
const slotAction = (s: ScenarioOpts) => decide(scenario(s)).plan.actions.find((a): a is Extract<Action, { type: 'sync_slots' }> => a.type === 'sync_slots');

describe('sync_slots in the plan', () => {
  it('the leader creates the permanent logical slot after refreshing its lock', () => {
    const p = decide(scenario({ pg: primary, config: CDC })).plan;
    expect(p.actions.map((a) => a.type)).toEqual(['update_lock', 'sync_slots']);
    expect(slotAction({ pg: primary, config: CDC })).toEqual({ type: 'sync_slots', ops: [{ op: 'create_logical', name: 'cdc', database: 'app', plugin: 'test_decoding' }], copy: [], errors: [] });
    expect(p.onFail?.actions.some((a) => a.type === 'sync_slots')).toBe(false);
  });

  it('nothing to do: no action', () => {
    expect(slotAction({ pg: primary })).toBeUndefined();
  });

  it('a replica copies the logical slot the leader publishes, and advances its copies of member slots', () => {
    const s = scenario({ me: 'node2', pg: replica, config: CDC });
    const cluster = s.cluster!;
    const withStatus = { ...s, cluster: Object.assign(Object.create(Object.getPrototypeOf(cluster)), cluster, { status: { ...cluster.status, slots: { cdc: 4000, node1: 3000 }, retainSlots: null, lastLsn: 5000 } }) };
    const a = decide(withStatus).plan.actions.find((x) => x.type === 'sync_slots');
    expect(a).toEqual({ type: 'sync_slots', ops: [{ op: 'advance_physical', name: 'node1', lsn: 3000 }], copy: ['cdc'], errors: [] });
  });

  it('a replica copies again a logical copy whose advance failed for good (PgFacts.lostSlotCopies)', () => {
    const cdcRow = row('cdc', { type: 'logical', database: 'app', plugin: 'test_decoding', active: false, restartLsn: 100, confirmedFlushLsn: 100, catalogXmin: '700' });
    const pg = { ...replica, slots: [...replica.slots, cdcRow] };
    const at = (facts: typeof pg & { lostSlotCopies?: string[] }) => {
      const s = scenario({ me: 'node2', pg: facts, config: CDC });
      const cluster = s.cluster!;
      return decide({ ...s, cluster: Object.assign(Object.create(Object.getPrototypeOf(cluster)), cluster, { status: { ...cluster.status, slots: { cdc: 4000 }, retainSlots: null, lastLsn: 5000 } }) })
        .plan.actions.find((x) => x.type === 'sync_slots');
    };
    expect(at(pg)).toMatchObject({ ops: [{ op: 'advance_logical', name: 'cdc', database: 'app', lsn: 4000 }], copy: [] });
    expect(at({ ...pg, lostSlotCopies: ['cdc'] })).toMatchObject({ ops: [], copy: ['cdc'] });
  });

  it('configuration problems are reported through the action', () => {
    expect(slotAction({ pg: primary, config: { slots: { 'Bad-Name': null } } })?.errors).toEqual([expect.stringContaining("Invalid permanent replication slot name 'Bad-Name'")]);
  });

  it.each<[string, ScenarioOpts]>([
    ['PostgreSQL still starting', { me: 'node2', pg: { ...replica, starting: true }, config: CDC }],
    ['PostgreSQL not running', { me: 'node2', pg: { ...replica, running: false, inRecovery: null }, config: CDC }],
    ['crashed primary being recovered', { pg: { ...crashedPrimary, slots: [] }, config: CDC }],
    ['a long action runs', { pg: primary, config: CDC, memory: { longAction: { name: 'restart', label: 'restart', since: 0 } } }],
    ['slots could not be read', { pg: { ...primary, slots: null }, config: CDC }],
    ['DCS down', { dcsDown: true, pg: primary, config: CDC }],
    ['no /config yet', { pg: primary, config: null }],
  ])('none when %s', (_n, s) => {
    expect(slotAction(s)).toBeUndefined();
  });

  it('in pause unknown slots stay', () => {
    expect(slotAction({ pg: { ...primary, slots: [...primary.slots, row('stray', { active: false })] }, settings: { paused: true } })).toBeUndefined();
    expect(slotAction({ pg: { ...primary, slots: [...primary.slots, row('stray', { active: false })] } })?.ops).toEqual([{ op: 'drop', name: 'stray', reason: 'unknown replication slot' }]);
  });
});
