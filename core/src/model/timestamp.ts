/** An instant plus the UTC offset it was written with, so values round-trip with their timezone. */
export interface ZonedTime {
  readonly date: Date;
  /** Minutes east of UTC as written; null when the text had no zone (naive, read as UTC). */
  readonly offsetMinutes: number | null;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parse an ISO-8601 timestamp (`2016-01-14T10:09:57.1394Z`, `…+02:00`); null when unparseable.
 * Strict: every field must be in range (no roll-over of `2099-13-45T99:99:99Z` into 2100) and the
 * offset must be a real one (under 24 h, minutes under 60), as Python's datetime requires.
 */
export function parseZonedTime(text: string): ZonedTime | null {
  if (typeof text !== 'string' || text.length > 64) return null;
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const [year, month, day, hour, minute, second] = [+y!, +mo!, +d!, +h!, +mi!, +s];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const ms = Math.min(999, Math.round(Number(`0.${frac}`) * 1000));
  let offset: number | null = null;
  if (zone) {
    if (zone.toUpperCase() === 'Z') offset = 0;
    else {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      if (digits.length !== 2 && digits.length !== 4) return null;
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2, 4) || '0');
      if (oh > 23 || om > 59) return null;
      offset = sign * (oh * 60 + om);
    }
  }
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, ms);
  const utc = local.getTime() - (offset ?? 0) * 60_000;
  if (Number.isNaN(utc)) return null;
  return { date: new Date(utc), offsetMinutes: offset };
}

/** Format as Python's datetime.isoformat() does for an aware datetime: `2024-01-01T12:00:00+00:00`. */
export function formatZonedTime(t: ZonedTime): string {
  const off = t.offsetMinutes ?? 0;
  const local = new Date(t.date.getTime() + off * 60_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ms = local.getUTCMilliseconds();
  const base = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    (ms ? `.${pad(ms * 1000, 6)}` : '');
  if (t.offsetMinutes === null) return base;
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${base}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
