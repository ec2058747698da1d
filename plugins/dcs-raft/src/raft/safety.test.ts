/**
 * Raft + KV safety under crashes, partitions and a lossy, reordering, duplicating network, over
 * many seeds (RAFT_SEEDS=n to run more; a failing seed reproduces alone with RAFT_SEED=s).
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../testing/fault-scenario.js';
import { checkAcknowledged, checkConvergence, checkExpiry } from '../testing/invariants.js';
import { checkLinearizable } from '../testing/linearizability.js';

const seeds = process.env.RAFT_SEED
  ? [Number(process.env.RAFT_SEED)]
  : Array.from({ length: Number(process.env.RAFT_SEEDS ?? 100) }, (_, i) => 1000 + i);

/** Which code paths the seeds exercised, checked after the last seed. */
const exercised = { seeds: 0, snapshotInstalls: 0, forwardedWrites: 0, forwardedReads: 0 };

describe('raft safety under faults', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const r = await runScenario({ seed, size: seed % 4 === 0 ? 5 : 3 });
      const { sim, history } = r;
      sim.checkLogMatching();
      // At most one leader per term; every node applied the same entry at each index.
      expect(sim.violations).toEqual([]);
      expect(r.unexpectedErrors).toEqual([]);
      expect(checkConvergence(r)).toEqual([]);
      expect(checkAcknowledged(r)).toEqual([]);
      expect(checkExpiry(r)).toEqual([]);
      const lin = checkLinearizable(history);
      expect(lin.ok, `history of ${history.length} operations is not linearizable`).toBe(true);
      // Not vacuous: leaders changed, and operations completed with both CAS outcomes and reads.
      expect(sim.leaders.size).toBeGreaterThan(1);
      const done = history.filter((h) => h.complete !== null);
      expect(done.filter((h) => h.op.kind === 'cas' && h.op.result === true).length).toBeGreaterThan(3);
      expect(done.filter((h) => h.op.kind === 'cas' && h.op.result === false).length).toBeGreaterThan(0);
      expect(done.filter((h) => h.op.kind === 'read').length).toBeGreaterThan(5);
      expect(sim.live().every((m) => m.node.core.snapshotIndex > 0)).toBe(true);
      exercised.seeds++;
      if (sim.delivered.get('snapshot')) exercised.snapshotInstalls++;
      if (sim.delivered.get('fwd')) exercised.forwardedWrites++;
      if (sim.delivered.get('fwdRead')) exercised.forwardedReads++;
    });
  }

  it('the seeds exercised snapshot installation and follower forwarding', () => {
    expect(exercised.seeds).toBe(seeds.length);
    for (const n of [exercised.snapshotInstalls, exercised.forwardedWrites, exercised.forwardedReads]) {
      expect(n).toBeGreaterThanOrEqual(Math.ceil(seeds.length / 2));
    }
  });
});

describe('the checks catch a broken system', () => {
  it('reads from local state without a read barrier are found non-linearizable', async () => {
    let caught = 0;
    for (let seed = 1; seed <= 12 && caught === 0; seed++) {
      const r = await runScenario({ seed, staleReads: true });
      if (!checkLinearizable(r.history).ok) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });
});
