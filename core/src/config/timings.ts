/**
 * ttl / loop_wait / retry_timeout: minimums and the `loop_wait + 2*retry_timeout <= ttl` rule,
 * adjusted exactly as Patroni's _validate_and_adjust_timeouts does, with its warning texts.
 */
export interface Timings {
  /** Leader lock / member key lifetime, seconds. */
  readonly ttl: number;
  /** Sleep between HA cycles, seconds. */
  readonly loopWait: number;
  /** Deadline for DCS and PostgreSQL retries, seconds. */
  readonly retryTimeout: number;
}

export const TIMING_DEFAULTS = { ttl: 30, loop_wait: 10, retry_timeout: 10 } as const;
const MINIMUMS = { loop_wait: 1, retry_timeout: 3, ttl: 20 } as const;

function toInt(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
  return fallback;
}

/**
 * Read the three values from a dynamic configuration (missing → defaults), raise each to its minimum,
 * then reduce loop_wait (and, if loop_wait=1 is not enough, retry_timeout) to satisfy the rule.
 */
export function adjustTimings(dynamic: Readonly<Record<string, unknown>>): { timings: Timings; warnings: string[] } {
  const warnings: string[] = [];
  const read = (key: keyof typeof MINIMUMS): number => {
    let v = toInt(dynamic[key], TIMING_DEFAULTS[key]);
    if (v < MINIMUMS[key]) {
      warnings.push(`${key}=${v} can't be smaller than ${MINIMUMS[key]}, adjusting...`);
      v = MINIMUMS[key];
    }
    return v;
  };
  let loopWait = read('loop_wait');
  let retryTimeout = read('retry_timeout');
  const ttl = read('ttl');
  const minLoopWait = MINIMUMS.loop_wait;
  if (minLoopWait + 2 * retryTimeout > ttl) {
    const newRetry = Math.floor((ttl - minLoopWait) / 2);
    warnings.push(`Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=${ttl}. `
      + `Adjusting loop_wait from ${loopWait} to ${minLoopWait} and retry_timeout from ${retryTimeout} to ${newRetry}`);
    loopWait = minLoopWait;
    retryTimeout = newRetry;
  } else if (loopWait + 2 * retryTimeout > ttl) {
    const newLoop = ttl - 2 * retryTimeout;
    warnings.push(`Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=${ttl} and retry_timeout=${retryTimeout}. `
      + `Adjusting loop_wait from ${loopWait} to ${newLoop}`);
    loopWait = newLoop;
  }
  return { timings: { ttl, loopWait, retryTimeout }, warnings };
}
