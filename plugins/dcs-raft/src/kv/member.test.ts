/**
 * TTL expiry on a simulated cluster, deterministic scenarios: the leader's clock decides, the
 * expiry goes through the log, and a refresh survives a leader change.
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../testing/sim-cluster.js';
import type { KvEnvelope } from './commands.js';

async function settle<T>(sim: SimCluster, p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => { done = true; });
  while (!done) await sim.run(5);
  return watched;
}

const leaderOf = (sim: SimCluster) => sim.live().find((m) => m.node.isLeader)!;

function expiries(sim: SimCluster): { index: number; key: string; version: number; at: number }[] {
  return [...sim.applied.entries()]
    .filter(([, r]) => r.data !== '' && (JSON.parse(r.data) as KvEnvelope).cmd.op === 'expire' && JSON.parse(r.result).ok)
    .map(([index, r]) => {
      const cmd = (JSON.parse(r.data) as KvEnvelope).cmd as { key: string; index: number };
      return { index, key: cmd.key, version: cmd.index, at: r.at };
    });
}

describe('KvMember TTL expiry', () => {
  it('expires an unrefreshed key once, after its TTL, at the same log position everywhere', async () => {
    const sim = new SimCluster({ seed: 7, size: 3 });
    await sim.run(1000);
    const r = await settle(sim, leaderOf(sim).submit({ op: 'set', key: 'lease', value: 'n1', ttlMs: 500 }, 2000));
    const setAt = sim.applied.get(r.index)!.at;
    await sim.run(1500);
    const ex = expiries(sim);
    expect(ex).toHaveLength(1);
    expect(ex[0]).toMatchObject({ key: 'lease', version: r.index });
    expect(ex[0]!.at - setAt).toBeGreaterThanOrEqual(500);
    expect(ex[0]!.at - setAt).toBeLessThan(700);
    for (const m of sim.live()) {
      expect(m.state.get('lease')).toBeUndefined();
      expect(m.node.appliedIndex).toBeGreaterThanOrEqual(ex[0]!.index);
    }
  });

  it('a refresh committed just before the leader crashes is not lost', async () => {
    const sim = new SimCluster({ seed: 11, size: 3 });
    await sim.run(1000);
    const first = leaderOf(sim);
    const follower = sim.live().find((m) => m !== first)!;
    await settle(sim, follower.submit({ op: 'set', key: 'lease', value: 'me', ttlMs: 600 }, 2000));
    await sim.run(400);
    const refresh = await settle(sim, follower.submit({ op: 'set', key: 'lease', value: 'me', ttlMs: 600, prevValue: 'me' }, 2000));
    expect(refresh.ok).toBe(true);
    const refreshedAt = sim.now;
    sim.crash(first.id);
    // The old version's TTL (started 400 ms earlier) runs out during the election: it must not win.
    await sim.run(500);
    expect(follower.state.get('lease')?.index).toBe(refresh.index);
    const second = await (async () => { while (!leaderOf(sim)) await sim.run(10); return leaderOf(sim); })();
    expect(second.id).not.toBe(first.id);
    await sim.run(1500);
    const ex = expiries(sim);
    expect(ex.map((e) => e.version)).toEqual([refresh.index]);
    expect(ex[0]!.at - refreshedAt).toBeGreaterThanOrEqual(600);
  });

  it('a minority cannot expire keys', async () => {
    const sim = new SimCluster({ seed: 3, size: 3 });
    await sim.run(1000);
    const leader = leaderOf(sim);
    await settle(sim, leader.submit({ op: 'set', key: 'lease', value: 'x', ttlMs: 300 }, 2000));
    const others = sim.ids.filter((id) => id !== leader.id);
    sim.crash(others[0]!);
    sim.crash(others[1]!);
    await sim.run(1000);
    expect(expiries(sim)).toEqual([]);
    expect(leader.state.get('lease')?.value).toBe('x');
    sim.restart(others[0]!);
    await sim.run(1500);
    expect(expiries(sim)).toHaveLength(1);
  });
});
