/** Time source, injectable so decisions and caches can be tested without sleeping. */
export interface Clock {
  /** Wall clock, ms since the epoch (for timestamps written to the DCS). */
  now(): number;
  /** Monotonic ms (for timeouts, TTL bookkeeping): never jumps with NTP. */
  monotonic(): number;
  /**
   * Call `fire` after `ms` on this clock; returns what cancels it. Optional: deadlines fall back to
   * setTimeout (a simulated clock gives its own, so a simulated slow call runs out of time too).
   */
  timer?(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

function realTimer(ms: number, fire: () => void): () => void {
  const t = setTimeout(fire, ms);
  return () => clearTimeout(t);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Reject with `onTimeout()` when `p` does not settle within `ms` (on `clock`'s timers when it has them). */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error, clock?: Clock): Promise<T> {
  // One promise and one timer per call (not race + finally): the HA loop makes a few of these every cycle.
  return new Promise<T>((resolve, reject) => {
    const cancel = (clock?.timer?.bind(clock) ?? realTimer)(ms, () => reject(onTimeout()));
    p.then((v) => { cancel(); resolve(v); }, (e: unknown) => { cancel(); reject(e); });
  });
}

/**
 * A deadline timer that fires this much later than due means this process was not running (SIGSTOP,
 * a paused VM, a blocked event loop), not that the other side was slow: its answer may be waiting,
 * unread, in a socket or pipe. Node runs expired timers before it reads sockets, so on waking such a
 * timer would otherwise beat the answer.
 */
export const STALL_MS = 500;
/** How long a deadline that expired during a stall waits for answers already there. */
export const STALL_GRACE_MS = 1000;

/**
 * setTimeout for deadlines: when it fires more than STALL_MS late, it waits STALL_GRACE_MS more
 * (once), so an answer that arrived while this process was stopped is read first. Returns the
 * function that cancels it.
 */
export function deadlineTimer(ms: number, onExpire: () => void): () => void {
  let due = performance.now() + ms;
  let graced = false;
  const fire = () => {
    const now = performance.now();
    if (!graced && now - due > STALL_MS) {
      graced = true;
      due = now + STALL_GRACE_MS;
      timer = setTimeout(fire, STALL_GRACE_MS);
      return;
    }
    onExpire();
  };
  let timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
}
