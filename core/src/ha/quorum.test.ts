/**
 * Quorum commit: table rows of the planner's steps, and an exhaustive check that every state the
 * planner passes through keeps each acknowledged commit visible to any candidate that can win —
 * checked by enumerating reader and holder sets, independently of the planner's own arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { planQuorum, planQuorumPrepromote } from './quorum.js';
import { parseSyncStandbyNames, SYNC_STRICT_PLACEHOLDER, type SyncSnapshot } from './sync.js';
import type { SyncKey, SyncStep } from './sync-steps.js';

const snap = (o: Partial<SyncSnapshot>): SyncSnapshot => ({ type: 'quorum', numsync: 0, sync: [], confirmed: [], active: [], ready: [], ...o });
const key = (leader: string | null, members: string[] = [], quorum = 0): SyncKey => ({ leader, members, quorum });
const show = (steps: SyncStep[]) => steps.map((s) => (s.kind === 'write_sync' ? `/sync ${s.leader} q=${s.quorum} [${s.members.join(',')}]` : s.kind === 'set_ssn' ? `ssn ${s.value ?? '<user>'}` : s.kind));

describe('quorum mode: steps', () => {
  const rows: Array<{ name: string; key: SyncKey; state: SyncSnapshot; wanted?: number; strict?: boolean; steps: string[] }> = [
    { name: 'first cycle with two standbys: enable, then ANY 1 over both (voters follow once they caught up)',
      key: key(null), state: snap({ type: 'off', active: ['b', 'c'] }),
      steps: ['/sync a q=0 []', 'ssn ANY 1 (b,c)'] },
    { name: 'next cycle, both caught up: they become voters',
      key: key('a'), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b', 'c'], ready: ['b', 'c'] }),
      steps: ['/sync a q=1 [b,c]'] },
    { name: 'only one caught up yet: voters wait (the other may miss commits only the leader has)',
      key: key('a'), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b', 'c'], ready: ['b'] }),
      steps: ['/sync a q=1 [b,c]'] },
    { name: 'they caught up: quorum drops to what ANY 1 of 2 needs',
      key: key('a', ['b', 'c'], 1), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b', 'c'], ready: ['b', 'c'] }), steps: [] },
    { name: 'steady state: nothing to do',
      key: key('a', ['b', 'c'], 1), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b', 'c'], ready: ['b'] }), steps: [] },
    { name: 'a standby is gone: PostgreSQL first keeps waiting for the one left, then /sync drops it',
      key: key('a', ['b', 'c'], 1), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b'], ready: ['b', 'c'] }),
      steps: ['ssn ANY 1 (b)'] },
    { name: 'next cycle, b caught up with the change: /sync drops c',
      key: key('a', ['b', 'c'], 1), state: snap({ numsync: 1, sync: ['b'], active: ['b'], ready: ['b'] }),
      steps: ['/sync a q=0 [b]'] },
    { name: 'synchronous_node_count 2: PostgreSQL waits for both before quorum drops to 0',
      key: key('a', ['b', 'c'], 1), state: snap({ numsync: 1, sync: ['b', 'c'], active: ['b', 'c'], ready: ['b', 'c'] }), wanted: 2,
      steps: ['ssn ANY 2 (b,c)'] },
    { name: 'after a failover the voting set keeps the old leader while nobody caught up yet',
      key: key('x', ['a', 'b'], 1), state: snap({ numsync: 2, sync: ['b', 'x'], active: [], ready: [] }),
      steps: ['/sync a q=1 [b,x]'] },
    { name: 'strict with no standby: ANY over the voters stays',
      key: key('a', ['b'], 0), state: snap({ numsync: 1, sync: ['b'], active: [] }), strict: true,
      steps: ['warn'] },
    { name: 'strict, nothing ever: the placeholder',
      key: key('a'), state: snap({ type: 'off', active: [] }), strict: true,
      steps: [`ssn ANY 1 (${SYNC_STRICT_PLACEHOLDER})`] },
    { name: 'from synchronous_mode on: FIRST becomes ANY',
      key: key('a', ['b'], 0), state: snap({ type: 'priority', numsync: 1, sync: ['b'], active: ['b'], ready: ['b'] }),
      steps: ['ssn ANY 1 (b)'] },
  ];
  it.each(rows)('$name', (r) => {
    expect(show(planQuorum({ me: 'a', key: r.key, state: r.state, minNodes: r.strict ? 1 : 0, wanted: r.wanted ?? 1 }))).toEqual(r.steps);
  });

  it('promotion: PostgreSQL waits for enough of the other voters (the old leader among them)', () => {
    expect(show(planQuorumPrepromote('b', key('a', ['b', 'c'], 1), 0))).toEqual(['ssn ANY 1 (a,c)']);
    expect(show(planQuorumPrepromote('d', key('a', ['b', 'c'], 1), 0))).toEqual(['ssn ANY 2 (a,b,c)']);
  });
});

/** k-subsets of xs. */
function subsets<T>(xs: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [h, ...t] = xs;
  return [...subsets(t, k - 1).map((s) => [h!, ...s]), ...subsets(t, k)];
}

/** Any winner reads Q+1 members of V ∪ {leader}; commits since the change are on the leader and N of S. */
function visible(me: string, voters: string[], q: number, sync: string[], num: number): boolean {
  const vl = [...new Set([me, ...voters])];
  if (vl.length === 1) return true;
  const readers = subsets(vl, Math.min(q + 1, vl.length));
  const holders = subsets(sync, num).map((h) => [me, ...h]);
  return readers.every((r) => holders.every((h) => h.some((x) => r.includes(x))));
}

describe('quorum mode: every state on the way keeps acknowledged commits visible', () => {
  const pool = ['b', 'c', 'd', 'e'];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = () => pool.filter(() => rnd() < 0.5);
  it('600 random starting points, started from a safe state', () => {
    let checked = 0;
    for (let i = 0; i < 600; i++) {
      const sync = pick();
      const num = sync.length ? 1 + Math.floor(rnd() * sync.length) : 0;
      const voters = pick();
      // A safe start: the smallest quorum that keeps the current era visible.
      let q = 0;
      while (q < voters.length && !visible('a', voters, q, sync, num)) q++;
      if (!visible('a', voters, q, sync, num)) continue;
      const active = pick();
      const ready = sync.filter(() => rnd() < 0.7);
      const wanted = 1 + Math.floor(rnd() * 3);
      const steps = planQuorum({ me: 'a', key: key('a', voters, q), state: snap({ numsync: num, sync, active, ready }), minNodes: 0, wanted });
      let [v, qq, s, n] = [voters, q, sync, num];
      for (const st of steps) {
        if (st.kind === 'write_sync') [v, qq] = [[...st.members], st.quorum ?? 0];
        if (st.kind === 'set_ssn') {
          const p = st.value ? parseSyncStandbyNames(st.value) : { members: [], num: 0 };
          [s, n] = [[...p.members], p.num];
        }
        expect(visible('a', v, qq, s, n), `start V=${voters} Q=${q} S=${sync} N=${num} active=${active} ready=${ready}; at ${JSON.stringify(st)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
  });
});
