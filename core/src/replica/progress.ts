/**
 * Progress of long restores (replica creation, bootstrap from a backup): what the tool reports
 * (percent, bytes) plus elapsed time, kept on the PostgreSQL controller so GET /patroni and the
 * member key can show it (`pgha list`: `creating replica 42%`), and logged at a bounded rate so a
 * multi-hour restore is neither silent nor a flood.
 */
import type { Logger } from '../log.js';

export interface ProgressReport {
  /** What runs: `creating replica`, `bootstrap`. */
  readonly action: string;
  /** The method or tool: `basebackup`, `pgbackrest`, `barman`, a script name. */
  readonly method: string;
  /** 0..100 when the tool reports it (or it can be estimated), else null. */
  readonly percent: number | null;
  readonly bytesDone: number | null;
  readonly bytesTotal: number | null;
  /** Epoch ms when the action started. */
  readonly startedAt: number;
  /** Epoch ms of the last update. */
  readonly updatedAt: number;
}

/** Where reports go (the controller's `setProgress`); null clears. */
export type ProgressSink = (p: ProgressReport | null) => void;

/** The JSON shape in GET /patroni and the member key (snake_case as Patroni's other fields). */
export function progressJson(p: ProgressReport, now = Date.now()): Record<string, unknown> {
  const out: Record<string, unknown> = { action: p.action, method: p.method };
  if (p.percent !== null) out.percent = Math.floor(p.percent);
  if (p.bytesDone !== null) out.bytes_done = p.bytesDone;
  if (p.bytesTotal !== null) out.bytes_total = p.bytesTotal;
  out.elapsed = Math.max(0, Math.round((now - p.startedAt) / 100) / 10);
  out.started_at = new Date(p.startedAt).toISOString();
  return out;
}

export interface ProgressUpdate {
  readonly percent?: number | null;
  readonly bytesDone?: number | null;
  readonly bytesTotal?: number | null;
}

// Methods may be third-party plugins: numbers that are not finite (or negative sizes) become unknown.
const clampPercent = (v: number): number | null => (Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : null);
const bytes = (v: number | null): number | null => (v !== null && Number.isFinite(v) && v >= 0 ? Math.round(v) : null);

/**
 * One action's progress. Logs when the percentage crosses a 10% step, and otherwise at most every
 * `logEveryMs` (so a tool that reports nothing still shows elapsed time).
 */
export class ProgressTracker {
  private report: ProgressReport;
  private lastLogAt: number;
  private lastLoggedStep = -1;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    action: string,
    method: string,
    private readonly sink: ProgressSink | undefined,
    private readonly logger: Logger,
    private readonly opts: { logEveryMs?: number; now?: () => number } = {},
  ) {
    const now = this.now();
    this.report = { action, method, percent: null, bytesDone: null, bytesTotal: null, startedAt: now, updatedAt: now };
    this.lastLogAt = now;
    this.sink?.(this.report);
    // Elapsed time keeps moving in the log even when the tool is quiet.
    const every = opts.logEveryMs ?? 30_000;
    if (every > 0) {
      this.timer = setInterval(() => { if (this.now() - this.lastLogAt >= every) this.log(); }, Math.min(every, 5000));
      this.timer.unref();
    }
  }

  private now(): number { return (this.opts.now ?? Date.now)(); }

  get current(): ProgressReport { return this.report; }

  update(u: ProgressUpdate): void {
    const percent = u.percent === undefined ? this.report.percent : u.percent === null ? null : clampPercent(u.percent);
    this.report = {
      ...this.report,
      percent,
      bytesDone: u.bytesDone === undefined ? this.report.bytesDone : bytes(u.bytesDone),
      bytesTotal: u.bytesTotal === undefined ? this.report.bytesTotal : bytes(u.bytesTotal),
      updatedAt: this.now(),
    };
    this.sink?.(this.report);
    const step = percent === null ? -1 : Math.floor(percent / 10);
    if (step > this.lastLoggedStep) {
      this.lastLoggedStep = step;
      this.log();
    }
  }

  private log(): void {
    this.lastLogAt = this.now();
    const p = progressJson(this.report, this.lastLogAt);
    const pct = this.report.percent === null ? '' : ` ${Math.floor(this.report.percent)}%`;
    this.logger.info({ progress: p }, `${this.report.action} (${this.report.method})${pct}, ${p.elapsed} s elapsed`);
  }

  /** Stop the timer and clear the published progress; logs the final line. */
  finish(ok: boolean): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const p = progressJson(this.report, this.now());
    this.logger.info({ progress: p, ok }, `${this.report.action} (${this.report.method}) ${ok ? 'finished' : 'failed'} after ${p.elapsed} s`);
    this.sink?.(null);
  }
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4, PB: 1024 ** 5 };

/** pg_basebackup --progress: `12345/67890 kB (18%), 0/1 tablespace ...` (one line per second, \r on a tty). */
export function parseBasebackupProgress(line: string): ProgressUpdate | null {
  const m = /(\d+)\/(\d+) kB \((\d+)%\)/.exec(line);
  if (!m) return null;
  return { bytesDone: Number(m[1]) * 1024, bytesTotal: Number(m[2]) * 1024, percent: Number(m[3]) };
}

/**
 * pgBackRest restore at log-level-console=detail: `P01 DETAIL: restore file /pg/base/1/1255 (768KB, 10.23%) checksum ...`
 * (also `... - exists and matches backup (8KB, 12.00%)` with --delta). Returns the percent and this file's size.
 */
export function parsePgBackRestProgress(line: string): { percent: number; fileBytes: number } | null {
  if (!/restore file /.test(line)) return null;
  const m = /\((\d+(?:\.\d+)?)(B|KB|MB|GB|TB|PB), (\d+(?:\.\d+)?)%\)/.exec(line);
  if (!m) return null;
  return { fileBytes: Math.round(Number(m[1]) * UNITS[m[2]!]!), percent: Number(m[3]) };
}

/** pgBackRest's closing line: `restore size = 22.0MB, file total = 966`. */
export function parsePgBackRestTotal(line: string): number | null {
  const m = /restore size = (\d+(?:\.\d+)?)(B|KB|MB|GB|TB|PB)/.exec(line);
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : null;
}

/**
 * A line handler for tools whose output carries progress (pg_basebackup, pgBackRest): feeds the
 * tracker and returns true for lines that are pure progress (they are not logged one by one).
 */
export function toolProgressLineHandler(tracker: ProgressTracker): (line: string) => boolean {
  let bytes = 0;
  return (line) => {
    const bb = parseBasebackupProgress(line);
    if (bb) {
      tracker.update(bb);
      return true;
    }
    const br = parsePgBackRestProgress(line);
    if (br) {
      bytes += br.fileBytes;
      tracker.update({ percent: br.percent, bytesDone: bytes });
      return true;
    }
    const total = parsePgBackRestTotal(line);
    if (total !== null) tracker.update({ bytesTotal: total, bytesDone: total, percent: 100 });
    // Other pgBackRest DETAIL lines (create path, sync path) are noise at info level.
    return / DETAIL: /.test(line);
  };
}

/**
 * pgBackRest prints per-file progress only at log-level-console=detail. When the command is
 * pgBackRest and nobody chose a console level, ask for it through the environment (the command
 * line and an explicit PGBACKREST_LOG_LEVEL_CONSOLE still win); the extra lines are parsed, not logged.
 */
export function pgbackrestProgressEnv(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const exe = (argv[0] ?? '').split('/').pop();
  if (exe !== 'pgbackrest' || env.PGBACKREST_LOG_LEVEL_CONSOLE !== undefined) return {};
  if (argv.some((a) => a.startsWith('--log-level-console'))) return {};
  return { PGBACKREST_LOG_LEVEL_CONSOLE: 'detail' };
}
