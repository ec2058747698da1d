import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, formatPlainLine, type LineSink } from './logging.js';

function capture(): LineSink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (l: string) => { lines.push(l); } };
}

describe('logging', () => {
  it('formats Patroni plain lines exactly', () => {
    const time = new Date(2026, 0, 1, 12, 0, 0, 123).getTime();
    expect(formatPlainLine({ time, level: 30, msg: 'no action. I am (node1), the leader with the lock' }))
      .toBe('2026-01-01 12:00:00,123 INFO: no action. I am (node1), the leader with the lock\n');
    expect(formatPlainLine({ time, level: 40, msg: 'w' })).toBe('2026-01-01 12:00:00,123 WARNING: w\n');
    expect(formatPlainLine({ time, level: 60, msg: 'x' })).toBe('2026-01-01 12:00:00,123 CRITICAL: x\n');
    expect(formatPlainLine({ time, level: 50, msg: 'm' }, { format: '%(levelname)-8s %(message)s', dateformat: '%H:%M' })).toBe('ERROR    m\n');
    expect(formatPlainLine({ time, level: 20, msg: 'd' }, { format: '%(asctime)s %(message)s', dateformat: '%Y/%m/%d %H:%M:%S' }))
      .toBe('2026/01/01 12:00:00 d\n');
  });

  it('plain logger writes one Patroni line per call, with printf-style arguments', () => {
    const sink = capture();
    const log = createLogger({ type: 'plain', level: 'INFO' }, { sink });
    log.info('Lock owner: %s; I am %s', 'node1', 'node2');
    log.debug('hidden');
    log.warn({ extra: 1 }, 'careful');
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO: Lock owner: node1; I am node2\n$/);
    expect(sink.lines[1]).toMatch(/ WARNING: careful\n$/);
  });

  it('plain Patroni lines by default, as Patroni writes them when log.type is unset', () => {
    const sink = capture();
    const log = createLogger({}, { sink });
    log.info('no action. I am (node1), the leader with the lock');
    log.warn('careful');
    log.error('broken');
    expect(sink.lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO: no action\. I am \(node1\), the leader with the lock\n$/);
    expect(sink.lines[1]).toMatch(/^\S+ \S+ WARNING: careful\n$/);
    expect(sink.lines[2]).toMatch(/^\S+ \S+ ERROR: broken\n$/);
  });

  it('JSON with log.type json, with static_fields; level from config, env overriding', () => {
    const sink = capture();
    const log = createLogger({ type: 'json', level: 'warning', static_fields: { app: 'pgha' } }, { sink });
    log.info('dropped');
    log.error('boom');
    expect(sink.lines).toHaveLength(1);
    expect(JSON.parse(sink.lines[0]!)).toMatchObject({ level: 50, msg: 'boom', app: 'pgha' });
    const debug = createLogger({ level: 'ERROR' }, { sink: capture(), env: { PATRONI_LOG_LEVEL: 'DEBUG' } });
    expect(debug.level).toBe('debug');
    expect(createLogger({}, { sink: capture(), env: { PATRONI_LOG_LEVEL: 'INFO', PGHA_LOG_LEVEL: 'CRITICAL' } }).level).toBe('fatal');
  });

  it('log.dir writes patroni.log and rotates by file_size/file_num', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-log-'));
    const log = createLogger({ type: 'plain', dir, file_size: 200, file_num: 2 }, {});
    for (let i = 0; i < 20; i++) log.info(`line number ${i} with some padding to fill the file`);
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['patroni.log', 'patroni.log.1', 'patroni.log.2']);
    expect(readFileSync(join(dir, 'patroni.log'), 'utf8')).toMatch(/INFO: line number 19 with/);
  });
});

describe('log file defaults (Patroni)', async () => {
  const { defaultLogFileMode, RotatingFileSink } = await import('./logging.js');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  it('0666 minus the umask unless log.mode says otherwise, set on the file explicitly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-logmode-'));
    const status = path.join(dir, 'status');
    fs.writeFileSync(status, 'Name:\tnode\nUmask:\t0027\nState:\tR\n');
    expect(defaultLogFileMode(status)).toBe(0o640);
    expect(defaultLogFileMode(path.join(dir, 'missing'))).toBe(0o644);
    const file = path.join(dir, 'patroni.log');
    fs.writeFileSync(file, '', { mode: 0o600 });
    new RotatingFileSink(file, 100, 2, 0o644).write('x\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
  });
});
