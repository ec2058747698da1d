/** Timestamps as patronictl prints and parses them. */
import { formatZonedTime, parseZonedTime } from '@pgha/core';
import { CtlError } from './errors.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local time `YYYY-MM-DD HH:MM:SS` plus `precision` fraction digits (patronictl's timestamp()). */
export function timestamp(precision = 6, now = new Date()): string {
  const base = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return precision > 0 ? `${base}.${pad(now.getMilliseconds() * 1000, 6).slice(0, precision)}` : base;
}

/** Minutes east of UTC of the local zone at `d`. */
function localOffsetMinutes(d: Date): number {
  return -d.getTimezoneOffset();
}

/**
 * `--scheduled`: `now`/empty means immediately (null); otherwise an ISO 8601 time, local time zone
 * when it has none. Returned in ISO format with its offset, as patronictl sends it.
 */
export function parseScheduled(value: string | undefined | null): string | null {
  if (value === undefined || value === null || (value || 'now') === 'now') return null;
  const t = parseZonedTime(value);
  if (!t) throw new CtlError(`Unable to parse scheduled timestamp (${value}). It should be in an unambiguous format (e.g. ISO 8601)`);
  if (t.offsetMinutes !== null) return formatZonedTime(t);
  // A naive time is local time: shift the instant parsed as UTC by the local offset at that moment.
  const guess = new Date(t.date.getTime() - localOffsetMinutes(t.date) * 60_000);
  const offset = localOffsetMinutes(guess);
  return formatZonedTime({ date: new Date(t.date.getTime() - offset * 60_000), offsetMinutes: offset });
}

/** An example for prompts: the next hour, `YYYY-MM-DDTHH:MM`. */
export function nextHourExample(now = new Date()): string {
  const d = new Date(now.getTime() + 3600_000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
