/**
 * The agent's logger (pino): Patroni's plain lines (`2026-11-29 08:00:00,123 INFO: message`) by
 * default, as Patroni writes them when `log.type` is unset, since operators grep them; JSON lines
 * with `log.type: json`; level from `log.level` (env PATRONI_LOG_LEVEL / PGHA_LOG_LEVEL wins);
 * `log.dir` writes `patroni.log` there (the name Patroni uses, so log shippers keep working), rotated
 * by `file_size` / `file_num` like Python's RotatingFileHandler. Writes are synchronous so the last
 * lines before a crash or exit are not lost.
 */
import { closeSync, existsSync, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type DestinationStream, type LevelWithSilent } from 'pino';
import type { Logger } from '../log.js';
import type { Env } from './env.js';
import { formatPlainLine } from './logging-plain.js';

export { formatPlainLine, asctime, strftime, pythonLevelName, DEFAULT_PLAIN_FORMAT, type PlainRecord } from './logging-plain.js';

export interface LogSettings {
  readonly type?: 'plain' | 'json';
  readonly level?: string;
  readonly format?: unknown;
  readonly dateformat?: string;
  readonly static_fields?: Readonly<Record<string, unknown>>;
  readonly dir?: string;
  readonly file_size?: number;
  readonly file_num?: number;
  readonly mode?: number;
}

/** Where lines go; anything with a synchronous write(string). */
export interface LineSink {
  write(line: string): void;
}

export interface PghaLogger extends Logger {
  /** The pino level in effect (debug, info, warn, error, fatal). */
  readonly level: string;
  /** Release the log file, if any. */
  close(): void;
}

const PYTHON_TO_PINO: Record<string, LevelWithSilent> = {
  NOTSET: 'trace', DEBUG: 'debug', INFO: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'fatal', FATAL: 'fatal',
};

export function pinoLevel(level: string | undefined): LevelWithSilent {
  return PYTHON_TO_PINO[(level ?? 'INFO').toUpperCase()] ?? 'info';
}

/** Patroni's default log file mode: 0666 minus the umask (read without changing it, from /proc). */
export function defaultLogFileMode(status = '/proc/self/status'): number {
  try {
    const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync(status, 'utf8'));
    if (m) return 0o666 & ~parseInt(m[1]!, 8);
  } catch { /* not Linux */ }
  return 0o644;
}

/** stderr, as Python's logging.StreamHandler. */
export function fdSink(fd = 2): LineSink {
  const stream = fd === 1 ? process.stdout : process.stderr;
  return {
    write: (line) => {
      try {
        writeSync(fd, line);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A full non-blocking pipe (slow reader): queue it in Node's stream instead of dying.
        if (code === 'EAGAIN') stream.write(line);
        // EPIPE: nobody reads our output any more; logging must never take the agent down.
        else if (code !== 'EPIPE') throw e;
      }
    },
  };
}

/** A size-rotated file: `name`, `name.1` … `name.<keep>`, rotated before a write would exceed maxBytes. */
export class RotatingFileSink implements LineSink {
  private fd: number;
  private size: number;

  constructor(private readonly path: string, private readonly maxBytes = 25_000_000, private readonly keep = 4, private readonly mode = 0o600) {
    this.fd = this.open();
    this.size = fstatSync(this.fd).size;
  }

  /** As Patroni's file handler: the mode is set explicitly (the umask does not narrow it, an old file gets it too). */
  private open(): number {
    const fd = openSync(this.path, 'a', this.mode);
    try { fchmodSync(fd, this.mode); } catch { /* not ours */ }
    return fd;
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.maxBytes > 0 && this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    writeSync(this.fd, line);
    this.size += bytes;
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.keep > 0) {
      rmSync(`${this.path}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    } else {
      rmSync(this.path, { force: true });
    }
    this.fd = this.open();
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** pino hands us its JSON line; re-render it as a Patroni plain line. */
function plainDestination(sink: LineSink, opts: { format?: string; dateformat?: string }): DestinationStream {
  return {
    write(line: string) {
      try {
        sink.write(formatPlainLine(JSON.parse(line), opts));
      } catch {
        sink.write(line);
      }
    },
  };
}

/**
 * Build the logger from the `log` section. `env` lets PATRONI_LOG_LEVEL / PGHA_LOG_LEVEL override the
 * level; `sink` replaces stderr/the file (tests).
 */
export function createLogger(log: LogSettings | undefined = {}, opts: { env?: Env; sink?: LineSink } = {}): PghaLogger {
  const env = opts.env ?? {};
  const level = pinoLevel(env.PGHA_LOG_LEVEL || env.PATRONI_LOG_LEVEL || log.level);
  let file: RotatingFileSink | null = null;
  let sink = opts.sink;
  if (!sink && log.dir) {
    mkdirSync(log.dir, { recursive: true });
    file = new RotatingFileSink(join(log.dir, 'patroni.log'), log.file_size ?? 25_000_000, log.file_num ?? 4, log.mode ?? defaultLogFileMode());
    sink = file;
  }
  sink ??= fdSink(2);
  const out = sink;
  const destination: DestinationStream = log.type !== 'json'
    ? plainDestination(out, { format: typeof log.format === 'string' ? log.format : undefined, dateformat: log.dateformat })
    : { write: (line: string) => out.write(line) };
  const logger = pino({ level, base: { pid: process.pid, ...(log.static_fields ?? {}) } }, destination);
  return Object.assign(logger, { close() { file?.close(); } }) as unknown as PghaLogger;
}
