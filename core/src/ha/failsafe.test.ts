/**
 * Failsafe mode as table tests: the plans without the DCS (Patroni's messages), the race rule, the
 * leader injection, the consent rule and the replica's memory, with Patroni's timings.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../model/cluster.js';
import { decide } from './decide.js';
import {
  FailsafeMemory, dcsUnavailablePlan, failsafeConsent, failsafePeers, failsafeRaceVerdict, failsafeTopology, parseFailsafePing, withFailsafeLeader,
} from './failsafe.js';
import { runningPrimary, runningReplica, scenario, stoppedReplica, type ScenarioOpts } from './scenario.js';
import type { HaInput, Plan } from './types.js';

const kinds = (p: Plan | undefined) => (p ? p.actions.map((a) => ('mode' in a ? `${a.type}:${a.mode}` : a.type)) : null);

function withFailsafeKey(input: HaInput, failsafe: Record<string, string> | null): HaInput {
  const c = input.cluster!;
  return { ...input, cluster: new Cluster({ initialize: c.initialize, config: c.config, leader: c.leader, status: c.status, members: [...c.members], failover: c.failover, history: c.history, failsafe }) };
}

const ping = { name: 'node1', conn_url: 'postgres://10.0.0.1:5432/postgres', api_url: 'http://10.0.0.1:8008/patroni' };

describe('a cycle without the DCS', () => {
  const rows: Array<{ name: string; s: ScenarioOpts; message: string; actions: string[]; fail?: string; failActions?: string[] }> = [
    { name: 'failsafe off: the primary demotes', s: { dcsDown: true, pg: runningPrimary }, message: 'demoting self because DCS is not accessible and I was a leader', actions: ['demote:offline'] },
    {
      name: 'failsafe on: the primary asks its peers, demotes when they do not all confirm', s: { dcsDown: true, pg: runningPrimary, settings: { failsafeMode: true } },
      message: 'continue to run as a leader because failsafe mode is enabled and all members are accessible', actions: ['failsafe_confirm'],
      fail: 'demoting self because DCS is not accessible and I was a leader', failActions: ['demote:offline'],
    },
    { name: 'failsafe on, paused: nothing', s: { dcsDown: true, pg: runningPrimary, settings: { failsafeMode: true, paused: true } }, message: 'PAUSE: DCS is not accessible', actions: [] },
    { name: 'failsafe on: a replica keeps streaming and does not race', s: { dcsDown: true, pg: runningReplica, settings: { failsafeMode: true } }, message: 'DCS is not accessible', actions: [] },
    { name: 'failsafe on: a stopped node does nothing', s: { dcsDown: true, pg: stoppedReplica, settings: { failsafeMode: true } }, message: 'DCS is not accessible', actions: [] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const p = decide(scenario(r.s)).plan;
      expect(p.message).toBe(r.message);
      expect(kinds(p)).toEqual(r.actions);
      if (r.fail) {
        expect(p.onFail?.message).toBe(r.fail);
        expect(kinds(p.onFail)).toEqual(r.failActions);
      } else expect(p.onFail).toBeUndefined();
    });
  }

  it('a lock refresh the DCS does not answer asks the peers instead of demoting (failsafe on, primary only)', () => {
    const on = decide(scenario({ settings: { failsafeMode: true } })).plan;
    expect(kinds(on)).toEqual(['update_lock']);
    expect(kinds(on.onFail)).toEqual(['demote:immediate-nolock']); // a lost compare-and-swap still demotes
    expect(kinds(on.onDcsError)).toEqual(['failsafe_confirm']);
    expect(kinds(on.onDcsError?.onFail)).toEqual(['demote:offline']);
    expect(decide(scenario({})).plan.onDcsError).toBeUndefined();
    expect(decide(scenario({ pg: runningReplica, settings: { failsafeMode: true } })).plan.onDcsError).toBeUndefined();
    expect(decide(scenario({ settings: { failsafeMode: true, paused: true } })).plan.onDcsError).toBeUndefined();
  });

  it('dcsUnavailablePlan never keeps a primary without a confirmation action', () => {
    for (const failsafeMode of [true, false]) {
      const p = dcsUnavailablePlan(scenario({ dcsDown: true, pg: runningPrimary, settings: { failsafeMode } }));
      expect(p.actions.length).toBe(1);
      expect(['failsafe_confirm', 'demote']).toContain(p.actions[0]!.type);
    }
  });
});

describe('the /failsafe topology', () => {
  it('lists every member with an api_url and the leader itself', () => {
    const c = scenario({ members: ['node1', 'node2', ['node3', { api_url: null }]] }).cluster!;
    expect(failsafeTopology(c, 'node1', 'http://x/patroni')).toEqual({ node1: 'http://127.0.0.1:8008/patroni', node2: 'http://127.0.0.1:8008/patroni' });
    expect(failsafeTopology(c, 'node9', 'http://x/patroni')).toMatchObject({ node9: 'http://x/patroni' });
  });

  it('the primary asks everybody but itself; none when it is not listed or the value is garbage', () => {
    expect(failsafePeers({ a: 'u1', b: 'u2', c: 3 }, 'a')).toEqual([{ name: 'b', url: 'u2' }, { name: 'c', url: '' }]);
    expect(failsafePeers({ a: 'u1' }, 'a')).toEqual([]);
    expect(failsafePeers({ b: 'u2' }, 'a')).toBeNull();
    expect(failsafePeers(null, 'a')).toBeNull();
    expect(failsafePeers(['a'], 'a')).toBeNull();
  });

  it('consent needs every listed member to accept', () => {
    const peers = [{ name: 'b' }, { name: 'c' }];
    expect(failsafeConsent(peers, [{ name: 'b', accepted: true, lsn: 1 }, { name: 'c', accepted: true, lsn: null }]).ok).toBe(true);
    expect(failsafeConsent(peers, [{ name: 'b', accepted: true, lsn: 1 }, { name: 'c', accepted: false, lsn: null }])).toEqual({ ok: false, reason: 'failsafe: no confirmation from c' });
    expect(failsafeConsent(peers, [{ name: 'b', accepted: true, lsn: 1 }]).reason).toBe('failsafe: no confirmation from c');
    expect(failsafeConsent([], []).ok).toBe(true);
  });
});

describe('the replica side', () => {
  it('parses the ping strictly and bounded', () => {
    expect(parseFailsafePing(ping)).toEqual(ping);
    expect(parseFailsafePing({ ...ping, slots: { node1: 100, bad: -1, x: 'y' } })).toEqual({ ...ping, slots: { node1: 100 } });
    expect(parseFailsafePing({ name: 'node1' })).toBe('conn_url must be a non-empty string');
    expect(parseFailsafePing([])).toBe('the request body must be a JSON object');
    expect(parseFailsafePing({ ...ping, name: 'x'.repeat(2000) })).toBe('name must be a non-empty string');
    expect(parseFailsafePing({ ...ping, slots: [1] })).toBe('slots must be an object');
  });

  it('remembers the primary for ttl from the ping, no longer', () => {
    const m = new FailsafeMemory();
    expect(m.leader(0, 30)).toBeNull();
    m.update(ping, 1000);
    expect(m.leader(30_999, 30)).toEqual(ping);
    expect(m.active(30_999, 30)).toBe(true);
    expect(m.leader(31_000, 30)).toBeNull();
    expect(m.active(31_000, 30)).toBe(false);
    m.confirmedAsPrimary(50_000, 30);
    expect(m.active(79_999, 30)).toBe(true);
    m.reset();
    expect(m.active(60_000, 30)).toBe(false);
  });

  it('an unlocked view gets the pinging primary as leader, so the replica follows it instead of racing', () => {
    const input = scenario({ me: 'node2', leader: null, settings: { failsafeMode: true } });
    expect(decide(input).plan.actions.map((a) => a.type)).toContain('acquire_lock');
    const cluster = withFailsafeLeader(input.cluster!, ping, 'node2');
    expect(cluster.leaderName).toBe('node1');
    expect(cluster.leader!.connUrl).toBe(ping.conn_url);
    const p = decide({ ...input, cluster }).plan;
    expect(p.message).toBe('no action. I am (node2), a secondary, and following a leader (node1)');
    expect(kinds(p)).toEqual(['follow']);
  });

  it('leaves locked views, my own pings and expired pings alone', () => {
    const locked = scenario({ me: 'node2' }).cluster!;
    expect(withFailsafeLeader(locked, { ...ping, name: 'node3' }, 'node2')).toBe(locked);
    const unlocked = scenario({ me: 'node1', leader: null }).cluster!;
    expect(withFailsafeLeader(unlocked, ping, 'node1')).toBe(unlocked);
    expect(withFailsafeLeader(unlocked, null, 'node2')).toBe(unlocked);
  });

  it('only members listed in a non-empty /failsafe may race', () => {
    const input = scenario({ me: 'node3', leader: null, settings: { failsafeMode: true } });
    const listed = withFailsafeKey(input, { node1: 'u', node3: 'u' });
    const unlisted = withFailsafeKey(input, { node1: 'u', node2: 'u' });
    expect(failsafeRaceVerdict(listed, listed.cluster!)).toBeNull();
    expect(failsafeRaceVerdict(unlisted, unlisted.cluster!)).toEqual({ ok: false, reason: 'failsafe: node3 is not in the /failsafe topology' });
    const p = decide(unlisted).plan;
    expect(p.actions.map((a) => a.type)).not.toContain('acquire_lock');
    expect(p.reason).toBe('failsafe: node3 is not in the /failsafe topology');
    expect(failsafeRaceVerdict({ ...unlisted, settings: { ...unlisted.settings, failsafeMode: false } }, unlisted.cluster!)).toBeNull();
    expect(failsafeRaceVerdict(withFailsafeKey(input, {}), withFailsafeKey(input, {}).cluster!)).toBeNull();
  });
});
