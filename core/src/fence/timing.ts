/**
 * The fence's timing: it must fire after `ttl - safety_margin` without a lock refresh, which is
 * before the lease can expire; and a healthy leader must always refresh before that.
 */
import { ConfigError } from '../errors.js';
import { isPlainObject } from '../util/json.js';

export interface FenceTiming {
  /** Seconds between a lock refresh being sent and the fence firing. */
  readonly fireAfter: number;
  readonly safetyMargin: number;
  /** A refresh that takes most of retry_timeout could let the fence fire on a healthy leader. */
  readonly warning?: string;
}

/** Patroni's safety_margin: default 5; -1 means ttl/2. */
export function safetyMargin(watchdog: unknown, ttl: number): number {
  const raw = isPlainObject(watchdog) ? watchdog.safety_margin : undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : 5;
  return n === -1 ? Math.floor(ttl / 2) : n;
}

/**
 * Adjust loop_wait so that a healthy leader refreshes before the fence fires, as Patroni adjusts
 * timings that break `loop_wait + 2*retry_timeout <= ttl`: with the default safety_margin (5) that
 * rule already implies this one; a larger margin (or -1, ttl/2) may need a shorter loop_wait. A
 * margin below 1 is left for fenceTiming to refuse.
 */
export function fitFenceRule<T extends { ttl: number; loopWait: number }>(t: T, watchdog: unknown): { timings: T; warning?: string } {
  const margin = safetyMargin(watchdog, t.ttl);
  const fireAfter = t.ttl - margin;
  if (margin < 1 || t.loopWait < fireAfter || fireAfter < 2) return { timings: t };
  const loopWait = fireAfter - 1;
  return {
    timings: { ...t, loopWait },
    warning: `Violated the fence rule "loop_wait < ttl - safety_margin", where ttl=${t.ttl} and safety_margin=${margin}. Adjusting loop_wait from ${t.loopWait} to ${loopWait}`,
  };
}

/**
 * Errors unless `safety_margin >= 1` and `loop_wait < ttl - safety_margin` (a healthy leader refreshes
 * before the fence fires); warns when `loop_wait + retry_timeout` does not fit too.
 */
export function fenceTiming(t: { ttl: number; loopWait: number; retryTimeout: number }, watchdog: unknown): FenceTiming {
  const margin = safetyMargin(watchdog, t.ttl);
  const fireAfter = t.ttl - margin;
  if (margin < 1) {
    throw new ConfigError([{ path: 'watchdog.safety_margin', message: `must be at least 1 second (or -1 for ttl/2), got ${margin}` }]);
  }
  if (t.loopWait >= fireAfter) {
    throw new ConfigError([{
      path: 'watchdog.safety_margin',
      message: `the fence fires ttl - safety_margin = ${fireAfter}s after the last lock refresh, so a healthy leader must refresh sooner: ` +
        `need loop_wait (${t.loopWait}) < ttl - safety_margin (${t.ttl} - ${margin})`,
    }]);
  }
  const warning = t.loopWait + t.retryTimeout >= fireAfter
    ? `loop_wait + retry_timeout (${t.loopWait} + ${t.retryTimeout}) >= ttl - safety_margin (${fireAfter}): a lock refresh slower than ${fireAfter - t.loopWait}s lets the fence stop a healthy primary`
    : undefined;
  return { fireAfter, safetyMargin: margin, ...(warning ? { warning } : {}) };
}
