/**
 * Deterministic partition scenarios on the simulated network: an isolated leader can neither
 * commit nor serve reads, and its uncommitted entries give way to the majority's log.
 */
import { describe, expect, it } from 'vitest';
import { KvUnavailableError } from '../kv/api.js';
import { SimCluster } from '../testing/sim-cluster.js';

async function settle<T>(sim: SimCluster, p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let out: { value?: T; error?: unknown } | null = null;
  p.then((value) => { out = { value }; }, (error: unknown) => { out = { error }; });
  while (!out) await sim.run(5);
  return out;
}

describe('raft under a partition', () => {
  it('an isolated leader cannot commit or read; the majority moves on and its log wins', async () => {
    const sim = new SimCluster({ seed: 21, size: 5 });
    await sim.run(1000);
    const old = sim.live().find((m) => m.node.isLeader)!;
    expect((await settle(sim, old.submit({ op: 'set', key: 'k', value: 'before', ttlMs: null }, 1000))).value?.ok).toBe(true);
    const rest = sim.ids.filter((id) => id !== old.id);
    sim.partition([old.id], rest);

    const lostWrite = settle(sim, old.submit({ op: 'set', key: 'k', value: 'lost', ttlMs: null }, 800));
    const staleRead = settle(sim, old.list('k', 800));
    const w = await lostWrite;
    const r = await staleRead;
    expect(w.error).toBeInstanceOf(KvUnavailableError);
    expect(r.error).toBeInstanceOf(KvUnavailableError);
    // Check-quorum: it noticed it lost the majority and stepped down.
    expect(old.node.isLeader).toBe(false);

    const majority = sim.live().filter((m) => m.id !== old.id);
    const ok = await settle(sim, majority[0]!.submit({ op: 'set', key: 'k', value: 'after', ttlMs: null }, 2000));
    expect(ok.value?.ok).toBe(true);
    expect(old.state.get('k')?.value).toBe('before');

    sim.heal();
    await sim.run(1000);
    for (const m of sim.live()) expect(m.state.get('k')?.value).toBe('after');
    expect([...sim.applied.values()].some((rec) => rec.data.includes('"lost"'))).toBe(false);
    sim.checkLogMatching();
    expect(sim.violations).toEqual([]);
  });
});
