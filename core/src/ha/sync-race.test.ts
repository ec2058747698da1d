/**
 * Table tests of the leader race and manual failover under synchronous_mode on and quorum
 * (Patroni's is_healthiest_node / _is_healthiest_node / is_failover_possible and their messages).
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { isFailoverPossible, isHealthiestNode } from './health.js';
import { scenario, type ScenarioOpts } from './scenario.js';
import type { Plan, SyncSettings } from './types.js';

const ON: SyncSettings = { mode: true, strict: false, nodeCount: 1, maxLagOnSyncnode: -1 };
const QUORUM: SyncSettings = { ...ON, mode: 'quorum' };
const kinds = (p: Plan) => p.actions.map((a) => ('mode' in a ? `${a.type}:${a.mode}` : a.type));
/** node1 was the leader and died; node2 is its synchronous standby. */
const unlocked = (o: ScenarioOpts): ScenarioOpts => ({ leader: null, me: 'node2', ...o });

interface Row { name: string; s: ScenarioOpts; ok: boolean; reason?: RegExp }

const race: Row[] = [
  { name: 'on: the sync standby races', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } }), ok: true },
  { name: 'on: an async member does not race', s: unlocked({ me: 'node3', sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } }), ok: false, reason: /node3 is not a synchronous standby/ },
  { name: 'on: the async member is not a reason to wait even when ahead', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON }, peers: [{ name: 'node1', reachable: false }, { name: 'node3', walPosition: 5000 }] }), ok: true },
  { name: 'on: the former leader being ahead of us is ignored', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON }, peers: [{ name: 'node1', walPosition: 5000 }, { name: 'node3' }] }), ok: true, reason: /Ignoring the former leader being ahead of us/ },
  { name: 'on: another sync standby ahead wins', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2,node3' }, settings: { sync: { ...ON, nodeCount: 2 } }, peers: [{ name: 'node1', reachable: false }, { name: 'node3', walPosition: 5000 }] }), ok: false, reason: /Wal position of node3 is ahead of my wal position/ },
  { name: 'on but /sync empty (mode not active yet): the usual race', s: unlocked({ me: 'node3', settings: { sync: ON } }), ok: true },
  { name: 'off: /sync is ignored', s: unlocked({ me: 'node3', sync: { leader: 'node1', sync_standby: 'node2' } }), ok: true },
  { name: 'quorum: a voter with enough votes races', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node3' }] }), ok: true },
  { name: 'quorum: without the votes it waits', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node3', reachable: false }] }), ok: false, reason: /Quorum requirement 1 can not be reached/ },
  { name: 'quorum: a non-voter needs one vote more', s: unlocked({ me: 'node3', members: ['node1', 'node2', 'node3', 'node4'], sync: { leader: 'node1', sync_standby: 'node2,node4', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node2' }, { name: 'node4', reachable: false }] }), ok: false, reason: /Quorum requirement 1/ },
  { name: 'quorum: a non-voter with quorum + 1 votes races', s: unlocked({ me: 'node3', members: ['node1', 'node2', 'node3', 'node4'], sync: { leader: 'node1', sync_standby: 'node2,node4', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node2' }, { name: 'node4' }] }), ok: true },
  { name: 'quorum: a nofailover voter still votes', s: unlocked({ members: ['node1', 'node2', ['node3', { tags: { nofailover: true } }]], sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node3', nofailover: false }] }), ok: true },
  { name: 'quorum: a voter ahead of me wins', s: unlocked({ sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node1', reachable: false }, { name: 'node3', walPosition: 5000 }] }), ok: false, reason: /Wal position of node3 is ahead/ },
  { name: 'quorum: the /sync leader itself may come back with no votes when nobody is ahead', s: unlocked({ me: 'node1', pg: { inRecovery: true }, sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node2', reachable: false }, { name: 'node3', reachable: false }] }), ok: true },
  { name: 'switchover in sync mode: an async member abstains', s: unlocked({ me: 'node3', failover: { leader: 'node1', member: 'node2' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } }), ok: false, reason: /switchover in synchronous mode: I am not a synchronous standby/ },
  { name: 'failover to an unhealthy candidate: only sync members race', s: unlocked({ me: 'node3', failover: { member: 'node2' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON }, peers: [{ name: 'node2', reachable: false }] }), ok: false, reason: /not a synchronous standby/ },
];

describe('leader race with synchronous replication', () => {
  it.each(race)('$name', (r) => {
    const v = isHealthiestNode(scenario(r.s), scenario(r.s).cluster!);
    expect(v.ok, v.reason).toBe(r.ok);
    if (r.reason) expect(v.reason).toMatch(r.reason);
  });

  it('the sync standby acquires the lock and promotes as the /sync leader', () => {
    const p = decide(scenario(unlocked({ sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } }))).plan;
    expect(p.message).toBe('promoted self to leader by acquiring session lock');
    expect(kinds(p)).toEqual(['acquire_lock', 'promote']);
    expect(p.actions[1]).toEqual({ type: 'promote', sync: ON });
  });

  it('the async member follows instead', () => {
    const p = decide(scenario(unlocked({ me: 'node3', sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } }))).plan;
    expect(p.message).toBe('following a different leader because i am not the healthiest node');
    expect(p.reason).toBe('node3 is not a synchronous standby');
  });

  it('the leader keeps synchronous replication up every cycle', () => {
    const p = decide(scenario({ sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } })).plan;
    expect(p.message).toBe('no action. I am (node1), the leader with the lock');
    expect(kinds(p)).toEqual(['update_lock', 'sync_replication']);
  });
});

describe('failover possible with synchronous replication (leader side)', () => {
  const rows: Array<{ name: string; s: ScenarioOpts; candidate?: string; ok: boolean; reason?: RegExp }> = [
    { name: 'switchover to the sync standby', s: { failover: { leader: 'node1', member: 'node2' } }, candidate: 'node2', ok: true },
    { name: 'switchover to an async member is not possible', s: { failover: { leader: 'node1', member: 'node3' } }, candidate: 'node3', ok: false, reason: /candidate=node3 does not match with sync_standbys=node2/ },
    { name: 'switchover to anyone goes to the sync standby only', s: { failover: { leader: 'node1' }, peers: [{ name: 'node2', reachable: false }, { name: 'node3' }] }, ok: false, reason: /Member node2 is not reachable/ },
    { name: 'failover (no leader named) may go to an async member', s: { failover: { member: 'node3' } }, candidate: 'node3', ok: true },
  ];
  it.each(rows)('$name', (r) => {
    const input = scenario({ ...r.s, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } });
    const v = isFailoverPossible(input, input.cluster!, r.candidate);
    expect(v.ok, v.reason).toBe(r.ok);
    if (r.reason) expect(v.reason).toMatch(r.reason);
  });

  it('quorum: a switchover needs enough healthy voters left', () => {
    const input = scenario({ members: ['node1', 'node2', 'node3'], failover: { leader: 'node1' }, sync: { leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }, settings: { sync: QUORUM }, peers: [{ name: 'node2' }, { name: 'node3', reachable: false }] });
    expect(isFailoverPossible(input, input.cluster!).reason).toMatch(/Quorum requirement 1 can not be reached/);
  });

  it('the leader refuses a switchover to an async member and clears the request', () => {
    const p = decide(scenario({ failover: { leader: 'node1', member: 'node3' }, sync: { leader: 'node1', sync_standby: 'node2' }, settings: { sync: ON } })).plan;
    expect(kinds(p)).toEqual(['update_lock', 'clear_failover', 'sync_replication']);
    expect(p.reason).toMatch(/candidate=node3 does not match with sync_standbys=node2/);
  });
});
