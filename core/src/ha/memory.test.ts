/** The reducer that turns reported events into memory, the published role, and the upkeep decide adds. */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { maintenance } from './maintenance.js';
import { applyEvents, publishedRole } from './memory.js';
import { runningPrimary, runningReplica, scenario, stoppedReplica } from './scenario.js';
import { freshMemory, type HaEvent } from './types.js';

const started = (name: 'start' | 'promote' | 'bootstrap' | 'clone' | 'rewind' | 'demote', role?: 'primary' | 'replica'): HaEvent =>
  ({ type: 'long_action_started', name, label: name, since: 7, ...(role ? { role } : {}) });
const done = (name: 'start' | 'promote' | 'bootstrap' | 'clone' | 'rewind' | 'demote', ok: boolean, role?: 'primary' | 'replica'): HaEvent =>
  ({ type: 'long_action_done', name, ok, ...(role ? { role } : {}) });

describe('applyEvents', () => {
  it('a start attempt is remembered with its start time; its success clears demoted and rewind', () => {
    const m = applyEvents({ ...freshMemory, demoted: true, rewind: 'done' }, [started('start', 'replica')]);
    expect(m).toMatchObject({ recovering: true, startedAt: 7, longAction: { name: 'start' }, demoted: true });
    expect(applyEvents(m, [done('start', true, 'replica')])).toMatchObject({ longAction: null, demoted: false, rewind: 'unknown', startFailed: false, role: 'replica' });
    expect(applyEvents(m, [done('start', false, 'replica')])).toMatchObject({ longAction: null, demoted: true, startFailed: true });
  });
  it('bootstrap: running, then started or failed; post_bootstrap; published', () => {
    expect(applyEvents(freshMemory, [started('bootstrap')])).toMatchObject({ bootstrap: 'running', role: 'uninitialized' });
    expect(applyEvents(freshMemory, [started('bootstrap'), done('bootstrap', true)])).toMatchObject({ bootstrap: 'started', longAction: null });
    expect(applyEvents(freshMemory, [started('bootstrap'), done('bootstrap', false)])).toMatchObject({ bootstrap: 'failed' });
    expect(applyEvents({ ...freshMemory, bootstrap: 'post_done' }, [{ type: 'bootstrap_finished' }])).toMatchObject({ bootstrap: 'none', role: 'primary' });
  });
  it('a graceful demotion publishes primary until the key is handed over', () => {
    const m = applyEvents({ ...freshMemory, role: 'primary' }, [{ type: 'demoted', mode: 'graceful' }]);
    expect(m).toMatchObject({ demoted: true, rewind: 'unknown', role: 'primary' });
    expect(applyEvents(m, [{ type: 'leader_released' }]).role).toBe('demoted');
    expect(applyEvents(freshMemory, [{ type: 'demoted', mode: 'immediate-nolock' }]).role).toBe('demoted');
  });
  it('promotion and rewind results', () => {
    expect(applyEvents({ ...freshMemory, demoted: true }, [started('promote'), done('promote', true)])).toMatchObject({ demoted: false, role: 'primary' });
    expect(applyEvents({ ...freshMemory, demoted: true }, [started('promote'), done('promote', false)])).toMatchObject({ demoted: true });
    expect(applyEvents(freshMemory, [started('rewind'), done('rewind', true)]).rewind).toBe('done');
    expect(applyEvents(freshMemory, [started('rewind'), done('rewind', false)]).rewind).toBe('failed');
  });
  it('divergence results and the published WAL position', () => {
    expect(applyEvents(freshMemory, [{ type: 'divergence', leader: 'n1', result: 'need_rewind', checkedFor: 'n1@2' }])).toMatchObject({ rewind: 'need_rewind', divergenceCheckedFor: 'n1@2' });
    expect(applyEvents(freshMemory, [{ type: 'member_published', walPosition: 42 }]).prevWalPosition).toBe(42);
  });
});

describe('publishedRole', () => {
  it('demoted wins, then the live server, then memory, then the data directory', () => {
    expect(publishedRole({ ...freshMemory, role: 'demoted' }, 'primary', false)).toBe('demoted');
    expect(publishedRole({ ...freshMemory, role: 'replica' }, 'primary', false)).toBe('primary');
    expect(publishedRole({ ...freshMemory, role: 'primary' }, null, false)).toBe('primary');
    expect(publishedRole(freshMemory, null, true)).toBe('uninitialized');
    expect(publishedRole(freshMemory, null, false)).toBe('replica');
  });
});

describe('upkeep decided with the plan', () => {
  it('the fence stands down on a replica, not on the lock holder, not while demoting', () => {
    expect(maintenance({ ...scenario({ me: 'node2' }), fence: true }, { message: '', actions: [] }).before).toEqual([{ type: 'stand_down_fence' }]);
    expect(maintenance({ ...scenario({}), fence: true }, { message: '', actions: [] }).before).toEqual([]);
    const demoting = scenario({ me: 'node2', pg: stoppedReplica, memory: { longAction: { name: 'demote', label: 'demote', since: 0 } } });
    expect(maintenance({ ...demoting, fence: true }, { message: '', actions: [] }).before).toEqual([]);
    expect(maintenance({ ...scenario({ me: 'node2' }), fence: false }, { message: '', actions: [] }).before).toEqual([]);
  });
  it('slots: create the members\' slots, drop inactive unknown ones, keep ignored and active ones', () => {
    const s = scenario({
      config: { postgresql: { use_slots: true }, ignore_slots: [{ name: 'keepme' }] },
      pg: { ...runningPrimary, slots: [{ name: 'node2', type: 'physical', active: true }, { name: 'old', type: 'physical', active: false }, { name: 'busy', type: 'physical', active: true }, { name: 'keepme', type: 'physical', active: false }] },
    });
    expect(maintenance(s, { message: '', actions: [] }).after).toEqual([{ type: 'sync_slots', create: ['node3'], drop: ['old'] }]);
    expect(maintenance(s, { message: '', actions: [{ type: 'promote' }] }).after).toEqual([]);
  });
  it('a due scheduled restart runs unless its role filter does not match', () => {
    const s = scenario({ me: 'node2', pg: runningReplica });
    expect(maintenance({ ...s, scheduledRestart: { at: s.now + 60_000, role: null } }, { message: '', actions: [] }).after).toEqual([]);
    expect(maintenance({ ...s, scheduledRestart: { at: s.now, role: 'replica' } }, { message: '', actions: [] }).after).toEqual([{ type: 'scheduled_restart' }]);
    expect(maintenance({ ...s, scheduledRestart: { at: s.now, role: 'master' } }, { message: '', actions: [] }).after)
      .toEqual([{ type: 'scheduled_restart', skip: 'role replica does not match master' }]);
  });
  it('decide puts upkeep first/last on the branch that runs', () => {
    const { plan } = decide({ ...scenario({ me: 'node2', leader: null }), fence: true });
    expect(plan.actions[0]).toEqual({ type: 'stand_down_fence' });
    expect(plan.onFail!.actions.some((a) => a.type === 'stand_down_fence')).toBe(false);
  });
  it('a running server\'s role is remembered unless demoted; a leader resets the race back-off', () => {
    expect(decide(scenario({ me: 'node2' })).memory.role).toBe('replica');
    expect(decide(scenario({ me: 'node2', memory: { role: 'demoted' } })).memory.role).toBe('demoted');
    expect(decide(scenario({ me: 'node2', memory: { raceBackoffSince: 5 } })).memory.raceBackoffSince).toBe(0);
  });
});
