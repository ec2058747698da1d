/**
 * Whole-cluster simulation over thousands of seeds: three real agents (decide, executor, DCS
 * facade) over an in-memory DCS and fake PostgreSQL servers, with seeded faults; the invariants of
 * invariants.ts after every step. A failing seed prints itself and its replay command:
 *   PGHA_SIM_SEED=<seed> npx vitest run core/src/sim/sim.test.ts
 * PGHA_SIM_SEEDS=<n> runs n seeds (default 5000); PGHA_SIM_FIRST=<k> starts at seed k.
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from './cluster.js';

const one = process.env.PGHA_SIM_SEED ? Number(process.env.PGHA_SIM_SEED) : null;
const count = one !== null ? 1 : Number(process.env.PGHA_SIM_SEEDS ?? 5000);
const first = one ?? Number(process.env.PGHA_SIM_FIRST ?? 1);

describe('whole-cluster simulation', () => {
  it(`${count} seeded runs keep the invariants (seeds ${first}..${first + count - 1})`, async () => {
    const failures: string[] = [];
    for (let seed = first; seed < first + count && failures.length < 3; seed++) {
      await new SimCluster({ seed }).run().catch((e: unknown) => { failures.push(e instanceof Error ? e.message : String(e)); });
    }
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
