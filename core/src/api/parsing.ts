/**
 * Parsers for request values, with Patroni's semantics: integers with PostgreSQL-style units
 * (`10MB`, `30s`), `X.Y[.Z]` PostgreSQL versions, and schedule timestamps for restart/switchover.
 */
import { parseZonedTime, type ZonedTime } from '../model/timestamp.js';

const UNIT_MULTIPLIERS: Record<'B' | 's', Record<string, number>> = {
  B: { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 },
  s: { us: 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600, d: 86400 },
};

/**
 * Patroni's parse_int(value, base_unit): an integer optionally followed by a unit (case-sensitive,
 * as PostgreSQL spells them). Returns null when the value or the unit is not understood.
 */
export function parseIntWithUnit(value: unknown, baseUnit: 'B' | 's'): number | null {
  if (typeof value === 'number') return Number.isInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*([+-]?\d+)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) return null;
  if (!m[2]) return n;
  const mult = UNIT_MULTIPLIERS[baseUnit][m[2]];
  return mult === undefined ? null : Math.round(n * mult);
}

/** `15.2` -> 150002, `9.6.24` -> 90624; throws with Patroni's message on anything else. */
export function postgresVersionToInt(version: string): number {
  const parts = version.split('.');
  if (!parts.every((p) => /^\s*\d+\s*$/.test(p))) {
    throw new Error(`Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${version}`);
  }
  const nums = parts.map(Number);
  if (nums.length < 2 || (nums.length === 2 && nums[0]! < 10) || nums.length > 3) {
    throw new Error(`Invalid PostgreSQL major version format: X.Y or X.Y.Z is accepted: ${version}`);
  }
  if (nums.length === 2) nums.splice(1, 0, 0);
  return Number(nums.map((n) => String(n).padStart(2, '0')).join(''));
}

export type ScheduleResult = { ok: true; at: ZonedTime } | { ok: false; status: number; error: string };

/** Patroni's parse_schedule: 400 without a timezone, 422 when in the past or unparseable. */
export function parseSchedule(value: unknown, action: string, nowMs: number): ScheduleResult {
  const at = typeof value === 'string' ? parseZonedTime(value) : null;
  if (!at) {
    return { ok: false, status: 422, error: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601' };
  }
  if (at.offsetMinutes === null) return { ok: false, status: 400, error: `Timezone information is mandatory for the scheduled ${action}` };
  if (at.date.getTime() < nowMs) return { ok: false, status: 422, error: `Cannot schedule ${action} in the past` };
  return { ok: true, at };
}

/** PostgreSQL's textual LSN, as Patroni's format_lsn: `0/3000060`. */
export function formatLsn(lsn: number): string {
  const hi = Math.floor(lsn / 2 ** 32);
  const lo = lsn - hi * 2 ** 32;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
