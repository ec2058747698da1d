import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { queueingSink } from './log-queue.js';
import { createLogger, type LineSink } from './logging.js';

function capture(): LineSink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (l: string) => { lines.push(l); } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('log.max_queue_size: a stalled stderr reader', () => {
  it('keeps at most max_queue_size records waiting, drops the rest, reports the count, keeps order', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pgha-logq-')), 'read.log');
    // A real pipe to a reader we freeze: the kernel buffer fills, then writes would block.
    const reader = spawn('sh', ['-c', `exec cat > ${out}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const pipe = reader.stdin as unknown as Socket & { _handle: { fd: number } };
    process.kill(reader.pid!, 'SIGSTOP');
    try {
      const sink = queueingSink(pipe._handle.fd, pipe, { maxQueue: 10, lostLine: (n) => `LOST ${n}\n` });
      const body = 'x'.repeat(1000);
      for (let i = 0; i < 300; i++) sink.write(`${String(i).padStart(3, '0')} ${body}\n`);
      // A 64 KiB pipe holds 65-100 of these lines (the kernel rounds to pages); 10 more wait; the rest are dropped.
      expect(sink.pending).toBe(10);
      expect(sink.lost).toBeGreaterThan(150);
      const lost = sink.lost;
      process.kill(reader.pid!, 'SIGCONT');
      for (let i = 0; i < 100 && sink.pending > 0; i++) await sleep(20);
      expect(sink.pending).toBe(0);
      sink.write('300 after\n');
      expect(sink.lost).toBe(0);
      pipe.end();
      await new Promise((r) => reader.once('exit', r));
      const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
      const numbers = lines.filter((l) => !l.startsWith('LOST')).map((l) => Number(l.slice(0, 3)));
      // Everything that was not dropped arrives whole and in order; the count comes before the next record.
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(numbers.length + lost).toBe(301);
      expect(lines.slice(-2)).toEqual([`LOST ${lost}`, '300 after']);
      expect(lines.every((l) => l.startsWith('LOST') || l.length === 1004 || l === '300 after')).toBe(true);
    } finally {
      try { process.kill(reader.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});

describe('log.traceback_level', () => {
  const err = () => new Error('connection refused');

  it('ERROR (the default): the stack trace follows the message', () => {
    const sink = capture();
    createLogger({ level: 'INFO' }, { sink }).error({ err: err() }, 'failed to update leader lock');
    expect(sink.lines[0]).toMatch(/ERROR: failed to update leader lock\nError: connection refused\n\s+at /);
  });

  it('DEBUG with level INFO: no trace, the error in DETAIL as Patroni writes it', () => {
    const sink = capture();
    createLogger({ level: 'INFO', traceback_level: 'DEBUG' }, { sink }).warn({ err: err() }, 'failed to update leader lock');
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatch(/WARNING: failed to update leader lock, DETAIL: 'connection refused'\n$/);
    const json = capture();
    createLogger({ type: 'json', traceback_level: 'debug' }, { sink: json }).error({ err: err(), member: 'n1' }, 'boom');
    const rec = JSON.parse(json.lines[0]!);
    expect(rec).toMatchObject({ msg: "boom, DETAIL: 'connection refused'", member: 'n1' });
    expect(rec.err).toBeUndefined();
  });

  it('DEBUG with level DEBUG: the trace is shown', () => {
    const sink = capture();
    createLogger({ level: 'DEBUG', traceback_level: 'DEBUG' }, { sink }).error({ err: err() }, 'failed');
    expect(sink.lines[0]).toMatch(/ERROR: failed\nError: connection refused\n\s+at /);
  });
});
