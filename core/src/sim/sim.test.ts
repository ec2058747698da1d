/**
 * Whole-cluster simulation over thousands of seeds: three real agents (decide, executor, DCS
 * facade) over an in-memory DCS and fake PostgreSQL servers, with seeded faults; the invariants of
 * invariants.ts after every step. A failing seed prints itself and its replay command:
 *   PGHA_SIM_SEED=<seed> npx vitest run core/src/sim/sim.test.ts
 * PGHA_SIM_SEEDS=<n> runs n seeds (default 5000); PGHA_SIM_FIRST=<k> starts at seed k; the seeds
 * are spread over PGHA_SIM_THREADS worker threads (default: one per CPU, at most four).
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from './cluster.js';
import { defaultSimThreads, runSeedsInThreads } from './seeds.js';

const one = process.env.PGHA_SIM_SEED ? Number(process.env.PGHA_SIM_SEED) : null;
const count = one !== null ? 1 : Number(process.env.PGHA_SIM_SEEDS ?? 5000);
const first = one ?? Number(process.env.PGHA_SIM_FIRST ?? 1);
const threads = one !== null ? 1 : Number(process.env.PGHA_SIM_THREADS ?? defaultSimThreads());

describe('whole-cluster simulation', () => {
  it(`${count} seeded runs keep the invariants (seeds ${first}..${first + count - 1}, ${threads} threads)`, async () => {
    const failures = await runSeedsInThreads(first, count, threads);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);

  it('a seed replays exactly: the same trace twice', async () => {
    const a = new SimCluster({ seed: 4242 });
    const b = new SimCluster({ seed: 4242 });
    await a.run();
    await b.run();
    expect(a.trace).toEqual(b.trace);
    expect(a.writes.map((w) => w.id)).toEqual(b.writes.map((w) => w.id));
    expect(a.trace.length).toBeGreaterThan(10);
  });
});
