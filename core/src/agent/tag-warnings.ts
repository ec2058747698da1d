/**
 * Patroni's check of contradictory boolean/priority tags (config `_validate_contradictory_tags`):
 * `nofailover: true` with `failover_priority > 0`, or `nofailover: false` with `failover_priority <= 0`
 * (and the same for `nosync` / `sync_priority`). The boolean tag wins; the operator is warned with
 * Patroni's exact text, at startup and on every reload.
 */
import { isPlainObject } from '../util/json.js';

/** Python's truth value of a YAML/JSON value. */
function pyBool(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Python's str() of a YAML/JSON scalar. */
function pyStr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  return String(v);
}

/** Patroni's parse_int: integers, and strings that hold one (units not supported for tags). */
function parseInt(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+(\.\d*)?\s*$/.test(v)) return Math.trunc(Number(v));
  return null;
}

export function contradictoryTagWarnings(tags: unknown): string[] {
  if (!isPlainObject(tags)) return [];
  const out: string[] = [];
  for (const [boolName, prioName] of [['nofailover', 'failover_priority'], ['nosync', 'sync_priority']] as const) {
    if (!(boolName in tags)) continue;
    const b = tags[boolName];
    const prio = parseInt(tags[prioName]);
    if (prio !== null && ((pyBool(b) && prio > 0) || (!pyBool(b) && prio <= 0))) {
      out.push(`Conflicting configuration between ${boolName}: ${pyStr(b)} and ${prioName}: ${prio}. Defaulting to ${boolName}: ${pyStr(b)}`);
    }
  }
  return out;
}
