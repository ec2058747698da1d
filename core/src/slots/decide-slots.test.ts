/** decide() plans slot maintenance (Patroni's step 13) after the cycle's own work, and only then. */
import { describe, expect, it } from 'vitest';
import { decide } from '../ha/decide.js';
import { crashedPrimary, runningPrimary, runningReplica, scenario, type ScenarioOpts } from '../ha/scenario.js';

const last = (s: ScenarioOpts) => decide(scenario(s)).actions.at(-1)?.type;
const has = (s: ScenarioOpts) => decide(scenario(s)).actions.some((a) => a.type === 'sync_slots');

describe('sync_slots in the plan', () => {
  it.each<[string, ScenarioOpts, boolean]>([
    ['leader with the lock', {}, true],
    ['replica following the leader', { me: 'node2', pg: runningReplica }, true],
    ['unlocked cluster, replica racing', { me: 'node2', leader: null, pg: runningReplica }, true],
    ['paused (slots are kept, nothing unknown dropped)', { settings: { paused: true } }, true],
    ['PostgreSQL still starting', { me: 'node2', pg: { ...runningReplica, starting: true } }, false],
    ['PostgreSQL not running', { me: 'node2', pg: { ...runningReplica, running: false, inRecovery: null } }, false],
    ['crashed primary being recovered', { pg: crashedPrimary }, false],
    ['a long action runs', { memory: { longAction: { name: 'restart', label: 'restart', since: 0 } } }, false],
    ['DCS down', { dcsDown: true, pg: runningPrimary }, false],
  ])('%s -> %s', (_n, s, want) => {
    expect(has(s)).toBe(want);
    if (want) expect(last(s)).toBe('sync_slots');
  });

  it('a plan that can lose keeps its fallback without slot work', () => {
    const p = decide(scenario({}));
    expect(p.actions.map((a) => a.type)).toEqual(['update_lock', 'sync_slots']);
    expect(p.onFail?.actions.some((a) => a.type === 'sync_slots')).toBe(false);
  });
});
