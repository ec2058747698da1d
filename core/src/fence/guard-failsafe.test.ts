/**
 * The fence and failsafe mode: staying primary through a DCS outage is an explicit state of the
 * guard. Only a confirmed round of POST /failsafe extends the deadline, by exactly what a lock
 * refresh sent at the same moment would give (fireAfter < ttl), never an unarmed guard, and a
 * failed round (no call) leaves the last deadline to fire.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import type { FenceClient } from './client.js';
import { PrimaryGuard } from './guard.js';
import type { KernelWatchdog } from './kernel-watchdog.js';

function guard(now: { t: number }) {
  const feeds: number[] = [];
  const fence = {
    connected: true, onLost: () => undefined,
    feed: async (ms: number) => { feeds.push(ms); return {} as never; },
    disarm: async () => ({}) as never,
  } as unknown as FenceClient;
  const watchdog = { activate: () => true, keepalive: () => undefined, disable: () => undefined, failed: false, setTimeout: () => undefined } as unknown as KernelWatchdog;
  const g = new PrimaryGuard(fence, watchdog, { fireAfter: 15, safetyMargin: 5 }, silentLogger, () => now.t);
  return { g, feeds };
}

describe('PrimaryGuard in failsafe mode', () => {
  it('does not arm on a failsafe confirmation: failsafe keeps a primary, it never makes one', async () => {
    const now = { t: 100_000 };
    const { g, feeds } = guard(now);
    await g.failsafeConfirmed(now.t);
    expect(feeds).toEqual([]);
    expect(g.isArmed).toBe(false);
  });

  it('a confirmation extends the deadline to fireAfter after the requests were sent, and says so', async () => {
    const now = { t: 100_000 };
    const { g, feeds } = guard(now);
    await g.lockRefreshed(now.t);
    expect(g.basis).toBe('lease');
    expect(feeds).toEqual([15_000]);
    // The DCS goes away; 6 s later a round of confirmations sent at t+6s took 3 s to complete.
    now.t += 9_000;
    await g.failsafeConfirmed(now.t - 3_000);
    expect(g.basis).toBe('failsafe');
    expect(feeds[1]).toBe(12_000); // 15 s from the send time, not from the answer
    // A failed round calls nothing: the deadline stays, and the fence fires 15 s after the last good round.
    now.t += 10_000;
    expect(feeds).toHaveLength(2);
    // Back on the DCS: the lease again.
    await g.lockRefreshed(now.t);
    expect(g.basis).toBe('lease');
    expect(feeds[2]).toBe(15_000);
  });

  it('a lost lock (null) never extends, whatever the basis', async () => {
    const now = { t: 100_000 };
    const { g, feeds } = guard(now);
    await g.lockRefreshed(now.t);
    await g.failsafeConfirmed(now.t);
    await g.lockRefreshed(null);
    expect(feeds).toHaveLength(2);
    expect(g.basis).toBe('failsafe');
  });
});
