/**
 * The e2e safety probe: which nodes of a test cluster accept a write, sampled every 100 ms. Two
 * nodes in one sample = two writable primaries.
 */
import type { TestCluster, TestNode } from './cluster.js';
import { SUPERUSER } from './cluster.js';
import { waitFor } from './procs.js';
import { acceptsWrites } from './writable.js';

export const writable = (n: TestNode): Promise<boolean> => acceptsWrites(n.pgPort, SUPERUSER.username, SUPERUSER.password, 300);

export interface WriteProbe {
  readonly samples: Array<{ t: number; writable: string[] }>;
  stop(): Promise<void>;
}

export function probeWritable(cluster: TestCluster): WriteProbe {
  const samples: Array<{ t: number; writable: string[] }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = Date.now();
      const ok = await Promise.all(cluster.nodes.map(async (n) => ((await writable(n)) ? n.name : null)));
      samples.push({ t, writable: ok.filter((x): x is string => !!x) });
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
    }
  })();
  return { samples, async stop() { running = false; await done; } };
}

/** A leader other than `old` that accepts writes. */
export function leaderOtherThan(cluster: TestCluster, old: string, timeoutMs = 60_000): Promise<TestNode> {
  return waitFor(async () => {
    const name = await cluster.leaderName();
    if (!name || name === old) return null;
    const n = cluster.node(name);
    return (await writable(n)) ? n : null;
  }, timeoutMs, `a leader other than ${old} accepting writes`, 200);
}
