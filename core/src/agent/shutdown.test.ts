/**
 * A synchronous standby that shuts down first asks the leader to release it (Patroni's
 * while_not_sync_standby): `nosync` is published, `/sync` is polled until it no longer names the
 * node (at most two loop_waits), and only then PostgreSQL stops; the tag is withdrawn afterwards.
 */
import { describe, expect, it } from 'vitest';
import { scenario } from '../ha/scenario.js';
import type { SyncSettings } from '../ha/types.js';
import { silentLogger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { DcsError } from '../errors.js';
import { whileNotSyncStandby, type SyncReleaseOptions } from './shutdown.js';

const ON: SyncSettings = { mode: true, strict: false, nodeCount: 1, maxLagOnSyncnode: -1 };
const listed = scenario({ me: 'node2', sync: { leader: 'node1', sync_standby: 'node2' } }).cluster!;
const released = scenario({ me: 'node2', sync: { leader: 'node1', sync_standby: 'node3' } }).cluster!;

function harness(clusters: Array<Cluster | Error>, o: Partial<SyncReleaseOptions> = {}) {
  const log: string[] = [];
  let reads = 0;
  const opts: SyncReleaseOptions = {
    name: 'node2', sync: ON, nosync: false, loopWait: 10, logger: silentLogger,
    dcs: { getCluster: async () => { const c = clusters[Math.min(reads++, clusters.length - 1)]!; if (c instanceof Error) throw c; return c; } },
    announce: async (on) => { log.push(`nosync ${on}`); return true; },
    sleep: async (ms) => { log.push(`sleep ${ms > 0}`); },
    ...o,
  };
  const run = () => whileNotSyncStandby(opts, async () => { log.push('stop'); return 'stopped'; });
  return { log, run, reads: () => reads };
}

describe('a synchronous standby leaving', () => {
  it('announces nosync, waits until /sync no longer names it, stops, then withdraws the tag', async () => {
    const h = harness([listed, listed, released]);
    expect(await h.run()).toBe('stopped');
    expect(h.log).toEqual(['nosync true', 'sleep true', 'sleep true', 'stop', 'nosync false']);
  });

  it('an asynchronous member stops at once, still announcing (the leader may be about to pick it)', async () => {
    const h = harness([released]);
    await h.run();
    expect(h.log).toEqual(['nosync true', 'stop', 'nosync false']);
  });

  it('does not wait outside synchronous mode or with its own nosync tag', async () => {
    for (const o of [{ sync: { ...ON, mode: false } }, { sync: undefined }, { nosync: true }] as Array<Partial<SyncReleaseOptions>>) {
      const h = harness([listed], o);
      await h.run();
      expect(h.log).toEqual(['stop']);
    }
  });

  it('a DCS failure or a failed announcement only skips the wait (it is a hint)', async () => {
    const h = harness([new DcsError('down')]);
    await h.run();
    expect(h.log).toEqual(['nosync true', 'stop', 'nosync false']);
    const g = harness([listed], { announce: async (on) => { g.log.push(`nosync ${on}`); return false; } });
    await g.run();
    expect(g.log).toEqual(['nosync true', 'stop', 'nosync false']);
    expect(g.reads()).toBe(0);
  });

  it('gives up after two loop_waits when the leader never releases it', async () => {
    const h = harness([listed], { loopWait: 0.01, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
    const t0 = Date.now();
    await h.run();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(h.log.at(-2)).toBe('stop');
  });
});
