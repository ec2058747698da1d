import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadlineFile, UptimeClock, uptimeMs } from './deadline-file.js';

const dirs: string[] = [];
const file = () => { const d = mkdtempSync(join(tmpdir(), 'pgha-deadline-')); dirs.push(d); return join(d, 'fence.deadline'); };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('the deadline file', () => {
  it('holds the last deadline written, rewritten in place at one size', () => {
    const path = file();
    const f = new DeadlineFile(path);
    f.write(123_456_789);
    expect(DeadlineFile.read(path)).toBe(123_456_789);
    f.write(99);
    expect(DeadlineFile.read(path)).toBe(99);
    expect(readFileSync(path, 'latin1')).toHaveLength(40);
    f.close();
  });

  it('reads a half-done write (two different numbers), garbage or no file as no deadline', () => {
    const path = file();
    expect(DeadlineFile.read(path)).toBeNull();
    writeFileSync(path, '123490 123456\n');
    expect(DeadlineFile.read(path)).toBeNull();
    writeFileSync(path, 'x x\n');
    expect(DeadlineFile.read(path)).toBeNull();
    writeFileSync(path, '123456 123456\n');
    expect(DeadlineFile.read(path)).toBe(123456);
  });

  it('writes a new file after the fence removed the old one, once reopened', () => {
    const path = file();
    const f = new DeadlineFile(path);
    f.write(1000);
    rmSync(path);
    f.write(2000); // to the removed file: nobody reads it
    expect(DeadlineFile.read(path)).toBeNull();
    f.reopen();
    f.write(3000);
    expect(DeadlineFile.read(path)).toBe(3000);
    f.close();
  });
});

describe('the uptime clock', () => {
  it('counts as /proc/uptime does and is never ahead of it', async () => {
    const c = new UptimeClock();
    for (let i = 0; i < 5; i++) {
      const before = uptimeMs();
      const now = c.now();
      expect(now).toBeLessThanOrEqual(uptimeMs() + 10); // /proc/uptime counts in 10 ms steps
      expect(now).toBeGreaterThanOrEqual(before - 20);
      await new Promise((r) => setTimeout(r, 30));
    }
  });

  it('lags while the monotonic clock stands still (a suspend), until the next sync', async () => {
    const mono = 1000;
    const c = new UptimeClock(() => mono);
    c.sync();
    const t0 = c.now();
    await new Promise((r) => setTimeout(r, 60));
    expect(c.now()).toBe(t0);
    expect(uptimeMs()).toBeGreaterThanOrEqual(t0 + 40);
    c.sync();
    expect(c.now()).toBeGreaterThanOrEqual(t0 + 40);
    expect(c.now()).toBeLessThanOrEqual(uptimeMs() + 10);
  });
});
