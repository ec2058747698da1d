/** An instant plus the UTC offset it was written with, so values round-trip with their timezone. */
export interface ZonedTime {
  readonly date: Date;
  /** Minutes east of UTC as written; null when the text had no zone (naive, read as UTC). */
  readonly offsetMinutes: number | null;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parse an ISO-8601 timestamp (`2016-01-14T10:09:57.1394Z`, `…+02:00`); null when unparseable. */
export function parseZonedTime(text: string): ZonedTime | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  let offset: number | null = null;
  if (zone) {
    if (zone.toUpperCase() === 'Z') offset = 0;
    else {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
    }
  }
  const utc = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s, ms) - (offset ?? 0) * 60_000;
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
