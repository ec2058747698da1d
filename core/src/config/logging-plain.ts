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
  return `${secondsText(time, d)},${pad(d.getMilliseconds(), 3)}`;
}

/** The `%Y-%m-%d %H:%M:%S` part, formatted once per second (the agent logs a line every cycle). */
let lastSecond: { at: number; text: string } = { at: NaN, text: '' };
function secondsText(time: number, d: Date): string {
  const at = Math.floor(time / 1000);
  // Put together directly: a line every cycle or two is a new second each time, and strftime's regex costs more.
  if (lastSecond.at !== at) lastSecond = { at, text: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` };
  return lastSecond.text;
}

export interface PlainRecord {
  readonly time: number;
  readonly level: number;
  readonly msg?: string;
  readonly pid?: number;
  readonly name?: string;
  readonly err?: { readonly stack?: string; readonly message?: string };
}

type Part = string | { readonly key: string; readonly left: boolean; readonly width: number };

/** A format split once into literal text and `%(key)…` fields. */
const compiled = new Map<string, readonly Part[]>();
function parts(format: string): readonly Part[] {
  let hit = compiled.get(format);
  if (!hit) {
    const out: Part[] = [];
    let last = 0;
    for (const m of format.matchAll(/%\((\w+)\)(-?)(\d*)[sdf]/g)) {
      out.push(format.slice(last, m.index), { key: m[1]!, left: m[2] === '-', width: Number(m[3] || 0) });
      last = m.index! + m[0].length;
    }
    out.push(format.slice(last));
    if (compiled.size < 16) compiled.set(format, out);
    hit = out;
  }
  return hit;
}

function field(key: string, rec: PlainRecord, dateformat: string | undefined): string {
  switch (key) {
    case 'asctime': return asctime(rec.time, dateformat);
    case 'levelname': return pythonLevelName(rec.level);
    case 'message': return rec.msg ?? '';
    case 'name': return rec.name ?? 'pgha';
    case 'process': return String(rec.pid ?? process.pid);
    case 'created': return String(rec.time / 1000);
    case 'levelno': return String(Math.max(rec.level - 10, 0));
    default: return '';
  }
}

/** One record as a line (with a trailing newline); an error's stack follows like a traceback. */
export function formatPlainLine(rec: PlainRecord, opts: { format?: string; dateformat?: string } = {}): string {
  let line = '';
  for (const p of parts(opts.format ?? DEFAULT_PLAIN_FORMAT)) {
    if (typeof p === 'string') { line += p; continue; }
    const v = field(p.key, rec, opts.dateformat);
    line += p.left ? v.padEnd(p.width) : v.padStart(p.width);
  }
  const trace = rec.err?.stack ? `\n${rec.err.stack}` : '';
  return `${line}${trace}\n`;
}
