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

describe('withDeadline on a clock with its own timers', () => {
  it('runs out on the clock, not on setTimeout, and a settled call cancels its timer', async () => {
    const timers = new Map<number, () => void>();
    let seq = 0;
    const clock = { now: () => 0, monotonic: () => 0, timer: (_ms: number, fire: () => void) => { const id = ++seq; timers.set(id, fire); return () => timers.delete(id); } };
    const answered = withDeadline(Promise.resolve('yes'), 10, () => new Error('late'), clock);
    await expect(answered).resolves.toBe('yes');
    expect(timers.size).toBe(0);
    const hung = withDeadline(new Promise<string>(() => undefined), 10, () => new Error('no answer'), clock);
    expect(timers.size).toBe(1);
    let settled = false;
    hung.then(() => { settled = true; }, () => { settled = true; });
    await sleep(30); // real time past the deadline: nothing happens until the clock's timer fires
    expect(settled).toBe(false);
    [...timers.values()][0]!();
    await expect(hung).rejects.toThrow('no answer');
  });
});
