/**
 * The kernel watchdog as Patroni drives it. This machine has no softdog (no modprobe, no
 * /dev/watchdog), so the device is a plain file (it records keepalive '1' and magic-close 'V'
 * writes) and the ioctls go to RecordingWatchdogIoctl, a test double that records every call.
 * The real python3 helper is checked separately: it issues WDIOC_SETTIMEOUT on the inherited
 * descriptor (a plain file answers ENOTTY, which proves the ioctl reached the kernel).
 */
import { mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../log.js';
import { KernelWatchdog, PythonWatchdogIoctl, WDIOC_GETTIMEOUT, WDIOC_SETTIMEOUT, type WatchdogIoctl } from './kernel-watchdog.js';

/** Test double: records ioctl calls; the device takes the timeout it is given, but never below `minSupported` (as hardware may). */
class RecordingWatchdogIoctl implements WatchdogIoctl {
  calls: Array<[string, number]> = [];
  timeout = 60;
  constructor(private readonly minSupported = 1) {}
  setTimeout(_fd: number, seconds: number): number {
    this.calls.push(['WDIOC_SETTIMEOUT', seconds]);
    this.timeout = Math.max(seconds, this.minSupported);
    return this.timeout;
  }
  getTimeout(): number {
    this.calls.push(['WDIOC_GETTIMEOUT', this.timeout]);
    return this.timeout;
  }
}

function fakeDevice(): string {
  const p = join(mkdtempSync(join(tmpdir(), 'pgha-wd-')), 'watchdog');
  writeFileSync(p, '');
  return p;
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const l = { lines, debug: (m: string) => lines.push(`DEBUG ${m}`), info: (m: string) => lines.push(`INFO ${m}`), warn: (m: string) => lines.push(`WARNING ${m}`), error: (m: string) => lines.push(`ERROR ${m}`), child: () => l };
  return l as never;
}

describe('KernelWatchdog (device: a plain file; ioctls: RecordingWatchdogIoctl test double)', () => {
  it('sets the ttl-derived timeout on activation, keeps alive, and closes with the magic V', () => {
    const dev = fakeDevice();
    const ioctl = new RecordingWatchdogIoctl();
    const log = capture();
    const wd = new KernelWatchdog('required', dev, 15, log, ioctl);
    expect(wd.activate()).toBe(true);
    expect(ioctl.calls).toEqual([['WDIOC_SETTIMEOUT', 15]]);
    expect(log.lines).toContain(`INFO Linux watchdog device at ${dev} activated with 15 second timeout`);
    wd.keepalive();
    wd.keepalive();
    expect(wd.active).toBe(true);
    wd.disable();
    expect(wd.active).toBe(false);
    expect(readFileSync(dev, 'utf8')).toBe('11V');
  });

  it('sets the timeout again when ttl changes while open, and not while closed', () => {
    const dev = fakeDevice();
    const ioctl = new RecordingWatchdogIoctl();
    const wd = new KernelWatchdog('automatic', dev, 25, silentLogger, ioctl);
    wd.activate();
    wd.setTimeout(45);
    expect(ioctl.calls).toEqual([['WDIOC_SETTIMEOUT', 25], ['WDIOC_SETTIMEOUT', 45]]);
    wd.disable();
    wd.setTimeout(20);
    expect(ioctl.calls).toHaveLength(2);
    wd.activate();
    expect(ioctl.calls.at(-1)).toEqual(['WDIOC_SETTIMEOUT', 20]);
  });

  it('required mode: a device that cannot go as low as ttl - safety_margin fails and is closed again', () => {
    const dev = fakeDevice();
    const log = capture();
    const low = new RecordingWatchdogIoctl(10);
    const ok = new KernelWatchdog('required', dev, 15, silentLogger, low);
    expect(ok.activate()).toBe(true);
    ok.disable();
    const tooLong = new KernelWatchdog('required', dev, 5, log, new RecordingWatchdogIoctl(10));
    expect(tooLong.activate()).toBe(false);
    expect(tooLong.failed).toBe(true);
    expect(tooLong.active).toBe(false);
    expect(log.lines).toContain(`WARNING Could not activate Linux watchdog device at ${dev}: a safe watchdog timeout 5 could not be configured. Watchdog timeout is 10.`);
    expect(log.lines).toContain('ERROR Configuration requires watchdog, but watchdog could not be activated');
    // (each open truncates the stand-in file) the refused device was closed with the magic V too
    expect(readFileSync(dev, 'utf8')).toBe('V');
  });

  it('automatic mode warns about an unsafe timeout but keeps the device', () => {
    const log = capture();
    const wd = new KernelWatchdog('automatic', fakeDevice(), 5, log, new RecordingWatchdogIoctl(10));
    expect(wd.activate()).toBe(true);
    expect(wd.active).toBe(true);
    expect(log.lines).toContain('WARNING Watchdog timeout 10 seconds does not ensure safe termination within 5 seconds');
    wd.disable();
  });

  it('automatic mode without a device: DEBUG as Patroni (not a warning), once, and again only after the timing changes', () => {
    const log = capture();
    const wd = new KernelWatchdog('automatic', '/nonexistent/watchdog', 15, log, new RecordingWatchdogIoctl());
    for (let i = 0; i < 5; i++) expect(wd.activate()).toBe(true);
    expect(log.lines).toEqual(['DEBUG Could not activate Linux watchdog device at /nonexistent/watchdog: /nonexistent/watchdog does not exist']);
    wd.setTimeout(25);
    wd.activate();
    expect(log.lines).toHaveLength(2);
  });

  it('mode off never opens the device', () => {
    const ioctl = new RecordingWatchdogIoctl();
    const wd = new KernelWatchdog('off', '/nonexistent/watchdog', 15, silentLogger, ioctl);
    expect(wd.activate()).toBe(true);
    expect(wd.active).toBe(false);
    expect(ioctl.calls).toEqual([]);
  });
});

describe('PythonWatchdogIoctl (the real helper)', () => {
  it('uses the ioctl numbers of linux/watchdog.h', () => {
    const ioc = (dir: number, nr: number) => ((dir << 30) | (4 << 16) | ('W'.charCodeAt(0) << 8) | nr) >>> 0;
    expect(WDIOC_SETTIMEOUT).toBe(ioc(3, 6));
    expect(WDIOC_GETTIMEOUT).toBe(ioc(2, 7));
  });

  it('issues WDIOC_SETTIMEOUT on the inherited descriptor (a plain file answers ENOTTY)', () => {
    const fd = openSync(fakeDevice(), 'w');
    try {
      expect(() => new PythonWatchdogIoctl().setTimeout(fd, 15)).toThrow(/Inappropriate ioctl for device/);
      expect(() => new PythonWatchdogIoctl().getTimeout(fd)).toThrow(/Inappropriate ioctl for device/);
    } finally {
      closeSync(fd);
    }
  });

  it('a missing python3 is an error that names it', () => {
    const fd = openSync(fakeDevice(), 'w');
    try {
      expect(() => new PythonWatchdogIoctl('/nonexistent/python3').setTimeout(fd, 15)).toThrow(/nonexistent\/python3/);
    } finally {
      closeSync(fd);
    }
  });
});
