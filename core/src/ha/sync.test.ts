/**
 * Table tests of synchronous replication on the leader: synchronous_standby_names as PostgreSQL
 * parses it and Patroni writes it, standby selection, and the order of `/sync` / PostgreSQL changes.
 */
import { describe, expect, it } from 'vitest';
import { formatSyncStandbyNames, parseSyncStandbyNames, selectStandbys, SYNC_STRICT_PLACEHOLDER, updateReadiness, type ReplicaRow, type SyncSnapshot } from './sync.js';
import { planMultisync, planMultisyncPrepromote, type SyncKey, type SyncStep } from './sync-steps.js';

describe('synchronous_standby_names', () => {
  const parsed: Array<[string, string, boolean, number, string[]]> = [
    ['', 'off', false, 0, []],
    ['FiRsT', 'priority', false, 1, ['FiRsT']],
    ['"1"', 'priority', false, 1, ['1']],
    [' a , b ', 'priority', false, 1, ['a', 'b']],
    ['2 (a,b)', 'priority', false, 2, ['a', 'b']],
    ['FIRST 2 (a, "b c")', 'priority', false, 2, ['a', 'b c']],
    ['ANY 4("a",*,b)', 'quorum', true, 4, ['a', '*', 'b']],
    [`ANY 1(${SYNC_STRICT_PLACEHOLDER})`, 'quorum', false, 1, []],
    ['*', 'priority', true, 1, ['*']],
  ];
  it.each(parsed)('parses %j', (value, type, star, num, members) => {
    expect(parseSyncStandbyNames(value)).toEqual({ type, hasStar: star, num, members });
  });
  it.each(['1', 'a,', 'ANY 4("a" b,"c c")', 'FIRST 4("a",)', '2 (,)'])('refuses %j as PostgreSQL would', (value) => {
    expect(() => parseSyncStandbyNames(value)).toThrow(/Unparsable synchronous_standby_names/);
  });
  const written: Array<[string[], number | null, boolean, string | null]> = [
    [[], null, false, null],
    [['node2'], null, false, 'node2'],
    [['node3', 'node2'], null, false, '2 (node2,node3)'],
    [['node3', 'node2'], 1, false, '1 (node2,node3)'],
    [['Node-2'], null, false, '"Node-2"'],
    [['any'], null, false, '"any"'],
    [[], 1, false, SYNC_STRICT_PLACEHOLDER],
    [['node2'], 1, true, 'ANY 1 (node2)'],
    [['node2', 'node3'], 1, true, 'ANY 1 (node2,node3)'],
    [[], 1, true, `ANY 1 (${SYNC_STRICT_PLACEHOLDER})`],
  ];
  it.each(written)('writes %j num=%j quorum=%j as %j', (sync, num, quorum, value) => {
    expect(formatSyncStandbyNames(sync, num, quorum)).toBe(value);
  });
});

const row = (name: string, o: Partial<ReplicaRow> = {}): ReplicaRow => ({ name, pid: 1, syncState: 'async', lsn: 1000, nofailover: false, syncPriority: 1, ...o });

describe('standby selection', () => {
  const cases: Array<{ name: string; rows: ReplicaRow[]; ready?: string[]; count?: number; maxLag?: number; quorum?: boolean; active: string[]; confirmed: string[] }> = [
    { name: 'the current sync standby stays preferred over a more advanced async one', rows: [row('b', { lsn: 900, syncState: 'sync' }), row('c', { lsn: 1000 })], ready: ['b'], active: ['b'], confirmed: ['b'] },
    { name: 'the most advanced wins among async standbys', rows: [row('b', { lsn: 900 }), row('c', { lsn: 1000 })], active: ['c'], confirmed: [] },
    { name: 'sync_priority before position', rows: [row('b', { lsn: 900, syncPriority: 5 }), row('c', { lsn: 1000 })], active: ['b'], confirmed: [] },
    { name: 'nofailover members come last', rows: [row('b', { lsn: 2000, nofailover: true }), row('c', { lsn: 1000 })], active: ['c'], confirmed: [] },
    { name: 'synchronous_node_count 2 takes two', rows: [row('b', { syncState: 'sync' }), row('c', { syncState: 'sync' }), row('d')], ready: ['b', 'c'], count: 2, active: ['b', 'c'], confirmed: ['b', 'c'] },
    { name: 'a standby that is sync but not caught up is not confirmed', rows: [row('b', { syncState: 'sync' })], active: ['b'], confirmed: [] },
    { name: 'maximum_lag_on_syncnode drops a laggard', rows: [row('b', { lsn: 100, syncState: 'sync' }), row('c', { lsn: 5000 })], ready: ['b'], maxLag: 1000, active: ['c'], confirmed: [] },
    { name: 'with one replica the lag is against the primary', rows: [row('b', { lsn: 100 })], maxLag: 500, active: [], confirmed: [] },
    { name: 'quorum: every eligible standby, ready ones confirmed', rows: [row('b', { syncState: 'quorum' }), row('c', { syncState: 'quorum' })], ready: ['b'], quorum: true, active: ['b', 'c'], confirmed: ['b'] },
    { name: 'quorum: nofailover only to fill the count', rows: [row('b'), row('c', { nofailover: true })], quorum: true, active: ['b'], confirmed: [] },
  ];
  it.each(cases)('$name', (c) => {
    const got = selectStandbys(c.rows, new Set(c.ready ?? []), 1000, { nodeCount: c.count ?? 1, maxLag: c.maxLag ?? -1, quorum: c.quorum ?? false });
    expect(got).toEqual({ active: c.active, confirmed: c.confirmed });
  });

  it('a newly listed standby counts once it streams sync past the flush LSN of the change', () => {
    const listed = ['b'];
    const no = () => false;
    expect([...updateReadiness(new Set(), [row('b', { syncState: 'sync', lsn: 999 })], listed, no, 1000, false)]).toEqual([]);
    expect([...updateReadiness(new Set(), [row('b', { syncState: 'potential', lsn: 2000 })], listed, no, 1000, false)]).toEqual([]);
    expect([...updateReadiness(new Set(), [row('b', { syncState: 'sync', lsn: 1000 })], listed, no, 1000, false)]).toEqual(['b']);
    // Not listed any more: forgotten.
    expect([...updateReadiness(new Set(['b']), [], ['c'], no, 1000, false)]).toEqual([]);
    // Quorum mode needs sync_state quorum.
    expect([...updateReadiness(new Set(), [row('b', { syncState: 'sync', lsn: 2000 })], listed, no, 1000, true)]).toEqual([]);
    expect([...updateReadiness(new Set(), [row('b', { syncState: 'quorum', lsn: 2000 })], listed, no, 1000, true)]).toEqual(['b']);
  });
});

const snap = (o: Partial<SyncSnapshot>): SyncSnapshot => ({ type: 'priority', numsync: 0, sync: [], confirmed: [], active: [], ...o });
const key = (leader: string | null, members: string[] = []): SyncKey => ({ leader, members, quorum: 0 });
const show = (steps: SyncStep[]) => steps.map((s) => {
  switch (s.kind) {
    case 'write_sync': return `/sync ${s.leader}:${s.members.join(',')}`;
    case 'set_ssn': return `ssn ${s.value ?? '<user>'}`;
    case 'publish_confirmed': return `confirm${s.wait ? ' after wait' : ''} (written ${s.written.join(',')})`;
    case 'warn': return `warn ${s.log}`;
  }
});

describe('synchronous_mode on: order of changes', () => {
  const rows: Array<{ name: string; key: SyncKey; state: SyncSnapshot; strict?: boolean; steps: string[] }> = [
    { name: 'first cycle: enable, then PostgreSQL, then /sync once confirmed',
      key: key(null), state: snap({ active: ['b'] }),
      steps: ['/sync a:', 'ssn b', 'confirm after wait (written )'] },
    { name: 'steady state: nothing to do',
      key: key('a', ['b']), state: snap({ numsync: 1, sync: ['b'], active: ['b'], confirmed: ['b'] }), steps: [] },
    { name: 'adding: PostgreSQL first, /sync after the standby confirmed',
      key: key('a'), state: snap({ active: ['b'] }),
      steps: ['ssn b', 'confirm after wait (written )'] },
    { name: 'replacing a lagging standby: /sync shrinks first, then PostgreSQL',
      key: key('a', ['b']), state: snap({ numsync: 1, sync: ['b'], active: ['c'], confirmed: [] }),
      steps: ['/sync a:', 'ssn c', 'confirm after wait (written )'] },
    { name: 'the standby is gone (non-strict): /sync first, then synchronous_standby_names cleared',
      key: key('a', ['b']), state: snap({ numsync: 1, sync: ['b'], active: [] }),
      steps: ['/sync a:', 'ssn <user>', 'confirm (written )'] },
    { name: 'strict and no standby left: PostgreSQL keeps waiting for the /sync standby; /sync unchanged',
      key: key('a', ['b']), state: snap({ numsync: 1, sync: ['b'], active: [] }), strict: true,
      steps: [/^warn No active replication connections from Patroni members and synchronous_mode_strict is requested. Continue using old value/.source] },
    { name: 'strict, nobody ever: the placeholder',
      key: key('a'), state: snap({ active: [] }), strict: true,
      steps: [`ssn ${SYNC_STRICT_PLACEHOLDER}`] },
    { name: 'a standby caught up while /sync lagged behind: /sync gets it',
      key: key('a'), state: snap({ numsync: 1, sync: ['b'], active: ['b'], confirmed: ['b'] }),
      steps: ['ssn b', 'confirm (written )'] },
    { name: 'another leader in /sync (after a failover): take it over first',
      key: key('x', ['a']), state: snap({ active: ['b'] }),
      steps: ['/sync a:', 'ssn b', 'confirm after wait (written )'] },
    { name: 'ANY from quorum mode is turned back into a priority list',
      key: key('a', ['b']), state: snap({ type: 'quorum', numsync: 1, sync: ['b'], active: ['b'], confirmed: ['b'] }),
      steps: ['ssn b'] },
  ];
  it.each(rows)('$name', (r) => {
    const got = show(planMultisync({ me: 'a', key: r.key, state: r.state, minNodes: r.strict ? 1 : 0 }));
    expect(got.length).toBe(r.steps.length);
    r.steps.forEach((want, i) => (want.startsWith('^') ? expect(got[i]).toMatch(new RegExp(want)) : expect(got[i]).toBe(want)));
  });

  it('every /sync write lists only standbys PostgreSQL already waits for', () => {
    for (const r of rows) {
      const steps = planMultisync({ me: 'a', key: r.key, state: r.state, minNodes: r.strict ? 1 : 0 });
      let waitsFor = new Set(r.state.sync);
      for (const s of steps) {
        if (s.kind === 'set_ssn') waitsFor = new Set(s.value ? parseSyncStandbyNames(s.value).members : []);
        if (s.kind === 'write_sync') for (const m of s.members) expect(waitsFor.has(m), `${r.name}: ${m}`).toBe(true);
      }
    }
  });

  it('promotion: non-strict starts with no standby; strict keeps waiting for the old leader and the others', () => {
    expect(show(planMultisyncPrepromote('b', key('a', ['b']), 0))).toEqual(['/sync b:', 'ssn <user>']);
    expect(show(planMultisyncPrepromote('b', key('a', ['b', 'c']), 1))).toEqual(['/sync b:a,c', 'ssn 2 (a,c)']);
    expect(show(planMultisyncPrepromote('b', key(null), 1))).toEqual(['/sync b:', `ssn ${SYNC_STRICT_PLACEHOLDER}`]);
  });
});
