/** deadlineTimer: on time it expires on time; fired late (this process stalled) it waits a grace first. */
import { describe, expect, it } from 'vitest';
import { deadlineTimer, STALL_GRACE_MS, STALL_MS, withDeadline } from './clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keep the event loop from running for `ms` (what a SIGSTOP does to every timer). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* stalled */ }
}

describe('deadlineTimer', () => {
  it('expires at its deadline when the process kept running', async () => {
    const t0 = performance.now();
    let at = 0;
    deadlineTimer(50, () => { at = performance.now() - t0; });
    await sleep(300);
    expect(at).toBeGreaterThanOrEqual(45);
    expect(at).toBeLessThan(50 + STALL_MS);
  });

  it('fired after a stall, it waits STALL_GRACE_MS, so answers already there are read first', async () => {
    const t0 = performance.now();
    let at = 0;
    let answered = false;
    deadlineTimer(50, () => { at = performance.now() - t0; });
    setTimeout(() => { answered = true; }, 60); // due before the deadline fires late: runs in the same wake-up
    stall(50 + STALL_MS + 200);
    await sleep(100);
    expect(answered).toBe(true);
    expect(at).toBe(0);
    await sleep(STALL_GRACE_MS + 200);
    expect(at).toBeGreaterThan(50 + STALL_MS + 200 + STALL_GRACE_MS - 50);
  });

  it('cancelled, it never fires (also during the grace)', async () => {
    let fired = 0;
    deadlineTimer(20, () => { fired++; })();
    const cancel = deadlineTimer(20, () => { fired++; });
    stall(20 + STALL_MS + 100);
    await sleep(50);
    cancel();
    await sleep(STALL_GRACE_MS + 100);
    expect(fired).toBe(0);
  });
});

describe('withDeadline', () => {
  it('passes on a value or an error that comes in time, and rejects with onTimeout() when none does', async () => {
    expect(await withDeadline(Promise.resolve(7), 1000, () => new Error('late'))).toBe(7);
    await expect(withDeadline(Promise.reject(new Error('refused')), 1000, () => new Error('late'))).rejects.toThrow('refused');
    const t0 = performance.now();
    await expect(withDeadline(new Promise(() => undefined), 50, () => new Error('late'))).rejects.toThrow('late');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
  });
});
