/**
 * `Action` holds exactly what `decide` emits: every action type in ACTION_TYPES (which the compiler
 * checks against the union) is produced by some situation below, and nothing else is produced.
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { crashedPrimary, emptyPg, runningPrimary, runningReplica, scenario, stoppedReplica, type ScenarioOpts } from './scenario.js';
import { ACTION_TYPES, type Action, type HaInput, type Plan } from './types.js';

const NEW_TL: ScenarioOpts['members'] = [['node1', { timeline: 2 }], 'node2', 'node3'];

const situations: Array<ScenarioOpts | HaInput> = [
  { leader: null, initialize: null, pg: emptyPg },
  { leader: null, pg: runningPrimary, memory: { bootstrap: 'started' } },
  { leader: null, pg: emptyPg, memory: { bootstrap: 'failed' } },
  { leader: null, initialize: '', pg: emptyPg, members: [['node2', { role: 'uninitialized', state: 'stopped' }]], memory: { raceUnanswered: true, abandonedRaceSince: 0 } },
  { leader: 'node2', pg: runningPrimary, memory: { bootstrap: 'post_done' } },
  { me: 'node2', pg: emptyPg },
  { leader: null, pg: runningPrimary, memory: { bootstrap: 'post_done' } },
  { initialize: null },
  { config: {} },
  { me: 'node2', leader: null },
  { failover: { leader: 'node1', member: 'node2' } },
  { failover: { leader: 'node2', member: 'node3' } },
  { me: 'node2', pg: crashedPrimary, memory: { rewind: 'not_needed' } },
  { me: 'node2', pg: crashedPrimary },
  { me: 'node2', pg: crashedPrimary, memory: { rewind: 'need_rewind' } },
  { me: 'node2', pg: crashedPrimary, memory: { rewind: 'failed' }, settings: { removeDataDirectoryOnRewindFailure: true } },
  { pg: { ...runningPrimary, dataDirEmpty: true } },
  { pg: { ...runningPrimary, timeline: 2 }, history: '[]' },
  { me: 'node2', memory: { longAction: { name: 'promote', label: 'promote', since: 0 } } },
  { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false } },
  { pg: { ...runningPrimary, sysid: '1' } },
  { me: 'node2', pg: stoppedReplica },
  { dcsDown: true, pg: runningPrimary, settings: { failsafeMode: true } },
  { leader: null, initialize: null, pg: emptyPg, settings: { standbyCluster: true } },
  { settings: { sync: { mode: true, strict: false, nodeCount: 1, maxLagOnSyncnode: -1 } } },
];

function fenceAndUpkeep(): HaInput {
  const gone = { name: 'gone', type: 'physical' as const, plugin: null, database: null, active: false, xmin: null, catalogXmin: null, restartLsn: 100, confirmedFlushLsn: null, walStatus: 'reserved' };
  const s = scenario({ me: 'node2', pg: { ...runningReplica, serverVersion: 150010, slots: [gone] }, config: { postgresql: { use_slots: true } } });
  return { ...s, fence: true, scheduledRestart: { at: s.now - 1, role: null } };
}

const all = (p: Plan): Action[] => [...p.actions, ...(p.onFail ? all(p.onFail) : [])];

describe('Action is exactly what decide emits', () => {
  it('every action type is reachable and no other is produced', () => {
    const seen = new Set<string>();
    const inputs = [...situations.map((s) => ('pg' in s && 'cluster' in s ? (s as HaInput) : scenario(s as ScenarioOpts))), fenceAndUpkeep()];
    for (const input of inputs) for (const a of all(decide(input).plan)) seen.add(a.type);
    expect([...seen].sort()).toEqual(Object.keys(ACTION_TYPES).sort());
  });
});
