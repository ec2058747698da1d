/**
 * Demotions in synchronous mode: primary_stop_timeout (Patroni: only in synchronous mode) bounds every
 * demotion decide() plans, in the main branch and in the fallback; outside synchronous mode, or at 0,
 * none is bounded. Once `/sync` is in force the handover waits for a member it lists (`syncOnly`).
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { runningPrimary, scenario, type ScenarioOpts } from './scenario.js';
import type { Action, Plan, SyncSettings } from './types.js';

const ON: SyncSettings = { mode: true, strict: false, nodeCount: 1, maxLagOnSyncnode: -1 };
const demotes = (p: Plan | undefined): Action[] => (p ? [...p.actions.filter((a) => a.type === 'demote'), ...demotes(p.onFail)] : []);
const timeouts = (s: ScenarioOpts) => demotes(decide(scenario(s)).plan).map((a) => (a.type === 'demote' ? `${a.mode}:${a.stopTimeout ?? '-'}:${a.syncOnly ? 'sync' : '-'}` : ''));

const rows: Array<{ name: string; s: ScenarioOpts; want: string[] }> = [
  { name: 'switchover in synchronous mode: graceful demotion bounded, its fallback too',
    s: { failover: { leader: 'node1', member: 'node2' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON, primaryStopTimeout: 30 } }, want: ['graceful:30:sync', 'immediate-nolock:30:sync'] },
  { name: 'DCS unreachable in quorum mode: offline demotion bounded',
    s: { dcsDown: true, pg: runningPrimary, settings: { sync: { ...ON, mode: 'quorum' }, primaryStopTimeout: 5 } }, want: ['offline:5:-'] },
  { name: 'synchronous mode off: no bound, any member may take over', s: { failover: { leader: 'node1', member: 'node2' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { primaryStopTimeout: 30 } }, want: ['graceful:-:-', 'immediate-nolock:-:-'] },
  { name: 'primary_stop_timeout 0: no bound, still only /sync members', s: { failover: { leader: 'node1', member: 'node2' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON, primaryStopTimeout: 0 } }, want: ['graceful:-:sync', 'immediate-nolock:-:sync'] },
  { name: 'synchronous mode on but /sync not written yet: any member', s: { failover: { leader: 'node1', member: 'node2' }, settings: { sync: ON } }, want: ['graceful:-:-', 'immediate-nolock:-:-'] },
];

describe('primary_stop_timeout on demotions', () => {
  it.each(rows)('$name', (r) => {
    expect(timeouts(r.s)).toEqual(r.want);
  });
});
