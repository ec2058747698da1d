import { describe, expect, it } from 'vitest';
import type { Logger } from '../log.js';
import {
  parseBasebackupProgress, parsePgBackRestProgress, parsePgBackRestTotal, progressJson, ProgressTracker, toolProgressLineHandler,
  type ProgressReport,
} from './progress.js';

function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    debug() {}, warn() {}, error() {},
    info(a: unknown, b?: unknown) { lines.push(typeof a === 'string' ? a : String(b)); },
    child() { return l; },
  };
  return l;
}

describe('progress parsing', () => {
  it('reads pg_basebackup --progress lines', () => {
    expect(parseBasebackupProgress('  12345/67890 kB (18%), 0/1 tablespace (...data/base/1/1255)')).toEqual({ bytesDone: 12345 * 1024, bytesTotal: 67890 * 1024, percent: 18 });
    expect(parseBasebackupProgress('waiting for checkpoint')).toBeNull();
  });
  it('reads pgBackRest restore detail lines and its closing size', () => {
    expect(parsePgBackRestProgress('2026-11-29 10:44:40.313 P01 DETAIL: restore file /r1/base/5/1255 (768KB, 3.41%) checksum adb7')).toEqual({ fileBytes: 768 * 1024, percent: 3.41 });
    expect(parsePgBackRestProgress('P01 DETAIL: restore file /r1/base/1/13399 (0B, 100.00%)')).toEqual({ fileBytes: 0, percent: 100 });
    expect(parsePgBackRestProgress('P00 DETAIL: create path /r1/base (1KB, 5%)')).toBeNull();
    expect(parsePgBackRestTotal('P00   INFO: restore size = 22.0MB, file total = 966')).toBe(Math.round(22 * 1024 * 1024));
  });
});

describe('ProgressTracker', () => {
  it('publishes updates, logs each 10% step once, and clears on finish', () => {
    const published: Array<ProgressReport | null> = [];
    const lines: string[] = [];
    let now = 1_000_000;
    const t = new ProgressTracker('creating replica', 'pgbackrest', (p) => published.push(p), recordingLogger(lines), { logEveryMs: 0, now: () => now });
    expect(published[0]).toMatchObject({ action: 'creating replica', method: 'pgbackrest', percent: null, startedAt: 1_000_000 });
    const handle = toolProgressLineHandler(t);
    now += 2500;
    expect(handle('P01 DETAIL: restore file /d/base/1/1 (1KB, 3.00%) checksum x')).toBe(true);
    expect(handle('P01 DETAIL: restore file /d/base/1/2 (2KB, 42.50%) checksum x')).toBe(true);
    expect(handle('P01 DETAIL: restore file /d/base/1/3 (1KB, 44.00%) checksum x')).toBe(true);
    expect(handle('P00   INFO: restore command begin')).toBe(false);
    expect(published.at(-1)).toMatchObject({ percent: 44, bytesDone: 4096 });
    expect(progressJson(published.at(-1)!, now)).toMatchObject({ action: 'creating replica', method: 'pgbackrest', percent: 44, bytes_done: 4096, elapsed: 2.5 });
    // 0% (first update) and 40% logged; 44% is the same step as 42.5%.
    expect(lines).toEqual(['creating replica (pgbackrest) 3%, 2.5 s elapsed', 'creating replica (pgbackrest) 42%, 2.5 s elapsed']);
    t.finish(true);
    expect(published.at(-1)).toBeNull();
    expect(lines.at(-1)).toBe('creating replica (pgbackrest) finished after 2.5 s');
  });
  it('percent is clamped to 0..100; non-finite numbers and negative sizes become unknown', () => {
    const out: Array<ProgressReport | null> = [];
    const t = new ProgressTracker('bootstrap', 'x', (p) => out.push(p), recordingLogger([]), { logEveryMs: 0 });
    t.update({ percent: 140 });
    expect(out.at(-1)!.percent).toBe(100);
    t.update({ percent: -3 });
    expect(out.at(-1)!.percent).toBe(0);
    t.update({ percent: Number.NaN, bytesDone: Number.POSITIVE_INFINITY, bytesTotal: -5 });
    expect(out.at(-1)).toMatchObject({ percent: null, bytesDone: null, bytesTotal: null });
    t.finish(false);
  });
});
