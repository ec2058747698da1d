/**
 * Patroni's plain log lines: Python logging's `%(asctime)s %(levelname)s: %(message)s`, e.g.
 * `2026-01-01 12:00:00,123 INFO: no action. I am (node1), the leader with the lock`. Operators grep
 * these lines, so level names are Python's (WARNING, CRITICAL) and times are local.
 */
export const DEFAULT_PLAIN_FORMAT = '%(asctime)s %(levelname)s: %(message)s';

/** pino level numbers → Python level names. */
export function pythonLevelName(level: number): string {
  if (level >= 60) return 'CRITICAL';
  if (level >= 50) return 'ERROR';
  if (level >= 40) return 'WARNING';
  if (level >= 30) return 'INFO';
  return 'DEBUG';
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A strftime subset (%Y %y %m %d %H %M %S %z %%), enough for log.dateformat values people use. */
export function strftime(fmt: string, d: Date): string {
  return fmt.replace(/%([YymdHMSz%])/g, (_, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'H': return pad(d.getHours());
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'z': {
        const off = -d.getTimezoneOffset();
        return `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
      }
      default: return '%';
    }
  });
}

/** Python's default asctime: `2026-01-01 12:00:00,123`; with a dateformat, no milliseconds (as Python does). */
export function asctime(time: number, dateformat?: string): string {
  const d = new Date(time);
  if (dateformat) return strftime(dateformat, d);
  return `${strftime('%Y-%m-%d %H:%M:%S', d)},${pad(d.getMilliseconds(), 3)}`;
}

export interface PlainRecord {
  readonly time: number;
  readonly level: number;
  readonly msg?: string;
  readonly pid?: number;
  readonly name?: string;
  readonly err?: { readonly stack?: string; readonly message?: string };
}

/** One record as a line (with a trailing newline); an error's stack follows like a traceback. */
export function formatPlainLine(rec: PlainRecord, opts: { format?: string; dateformat?: string } = {}): string {
  const fields: Record<string, string | number> = {
    asctime: asctime(rec.time, opts.dateformat),
    levelname: pythonLevelName(rec.level),
    message: rec.msg ?? '',
    name: rec.name ?? 'pgha',
    process: rec.pid ?? process.pid,
    created: rec.time / 1000,
    levelno: Math.max(rec.level - 10, 0),
  };
  const line = (opts.format ?? DEFAULT_PLAIN_FORMAT).replace(/%\((\w+)\)(-?)(\d*)[sdf]/g, (_, key: string, left: string, width: string) => {
    const v = String(fields[key] ?? '');
    const w = Number(width || 0);
    return left ? v.padEnd(w) : v.padStart(w);
  });
  const trace = rec.err?.stack ? `\n${rec.err.stack}` : '';
  return `${line}${trace}\n`;
}
