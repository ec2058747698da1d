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
import { pino, type DestinationStream, type LevelWithSilent, type LogFn } from 'pino';
import { isPlainObject } from '../util/json.js';
import type { Logger } from '../log.js';
import type { Env } from './env.js';
import { fdSink, type LineSink } from './log-queue.js';
import { formatPlainLine, type PlainRecord } from './logging-plain.js';

export { fdSink, queueingSink, DEFAULT_MAX_QUEUE_SIZE, type LineSink, type QueueingSink } from './log-queue.js';
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
  /** Patroni's `traceback_level`: DEBUG shows stack traces only when `level` is DEBUG too. */
  readonly traceback_level?: string;
  /** Patroni's `max_queue_size`: records that may wait for a slow stderr reader. */
  readonly max_queue_size?: number;
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
 * Patroni's `traceback_level`: at its default (ERROR) an error's stack trace is logged with it; at
 * DEBUG the trace is shown only when the log level is DEBUG as well, and otherwise the message ends
 * with `, DETAIL: '<error>'` instead, as Patroni's logger.exception does.
 */
export function tracebacksHidden(tracebackLevel: string | undefined, level: LevelWithSilent): boolean {
  return (tracebackLevel ?? 'ERROR').toUpperCase() === 'DEBUG' && level !== 'debug' && level !== 'trace';
}

/** pino's logMethod hook: `{ err }` loses its stack and lends its message to the line. */
function withoutTraceback(this: unknown, args: Parameters<LogFn>, method: LogFn): void {
  const [first, msg, ...rest] = args as unknown[];
  const err = first instanceof Error ? first : isPlainObject(first) && first.err instanceof Error ? first.err : null;
  if (!err) return method.apply(this, args);
  const fields = first instanceof Error ? {} : { ...(first as Record<string, unknown>), err: undefined };
  const text = typeof msg === 'string' ? msg : err.message;
  return (method as (...a: unknown[]) => void).apply(this, [fields, `${text}, DETAIL: '${err.message}'`, ...rest]);
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
  const plain = { format: typeof log.format === 'string' ? log.format : undefined, dateformat: log.dateformat };
  const base = { pid: process.pid, ...(log.static_fields ?? {}) };
  // The dropped-records warning is written by the sink itself, so it is rendered here in the log's format.
  const warning = (msg: string): string => (log.type !== 'json'
    ? formatPlainLine({ time: Date.now(), level: 40, msg, pid: process.pid } satisfies PlainRecord, plain)
    : `${JSON.stringify({ level: 40, time: Date.now(), ...base, msg })}\n`);
  sink ??= fdSink(2, { maxQueue: log.max_queue_size, lostLine: (n) => warning(`QueueHandler has lost ${n} log records`) });
  const out = sink;
  const destination: DestinationStream = log.type !== 'json' ? plainDestination(out, plain) : { write: (line: string) => out.write(line) };
  const hooks = tracebacksHidden(log.traceback_level, level) ? { logMethod: withoutTraceback } : {};
  const logger = pino({ level, base, hooks }, destination);
  return Object.assign(logger, { close() { file?.close(); } }) as unknown as PghaLogger;
}
