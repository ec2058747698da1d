/**
 * CI smoke of the chaos suite (`npm run chaos` runs the long version): a few seeded faults on a
 * 3-node synchronous cluster on etcd; no two nodes acknowledge commits at once, no acknowledged
 * write is lost, the cluster is healthy within ttl + 30 s after each fault.
 */
import { describe, expect, it } from 'vitest';
import { formatChaos, runChaos } from './suite.js';

describe('chaos smoke', () => {
  it('4 seeded faults in synchronous_mode on, etcd3', async () => {
    const lines: string[] = [];
    const r = await runChaos({ faults: 4, mode: 'on', dcs: 'etcd3', seed: 20261129, log: (l) => lines.push(l) });
    const table = formatChaos(r);
    expect(r.faultsRun, `${lines.join('\n')}\n${table}`).toBe(4);
    expect(r.failures, `${lines.join('\n')}\n${table}`).toEqual([]);
    expect(r.ackedWrites).toBeGreaterThan(50);
    expect(Object.values(r.stats).reduce((a, s) => a + s.lostWrites + s.dualWindows, 0)).toBe(0);
  }, 600_000);
});
