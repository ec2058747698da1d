/**
 * Patroni's `watchdog` section for /dev/watchdog: `mode` off / automatic / required, `device`.
 * Like Patroni, the device's timeout is SET to the ttl-derived value (ttl - safety_margin) when it
 * is opened, and again when ttl changes; it is closed with the magic 'V' in pause and on shutdown.
 * Node has no ioctl(), so WDIOC_SETTIMEOUT / WDIOC_GETTIMEOUT go through a tiny python3 helper that
 * inherits the open descriptor (a watchdog device can be opened only once). Without the helper the
 * device's configured timeout (sysfs) must already be short enough. An unusable device fails
 * activation: fatal for promotion in `required` mode, a warning in `automatic` mode.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../log.js';
import { isPlainObject, parseBool } from '../util/json.js';

export type WatchdogMode = 'off' | 'automatic' | 'required';

export function watchdogMode(section: unknown): WatchdogMode {
  const raw = isPlainObject(section) ? section.mode : undefined;
  if (raw === undefined || raw === null) return 'automatic';
  const b = parseBool(raw);
  if (b === false) return 'off';
  if (b === true) return 'automatic';
  const s = String(raw).toLowerCase();
  return s === 'required' ? 'required' : s === 'off' || s === 'disabled' ? 'off' : 'automatic';
}

/** linux/watchdog.h: _IOWR('W', 6, int) and _IOR('W', 7, int). */
export const WDIOC_SETTIMEOUT = 0xc0045706;
export const WDIOC_GETTIMEOUT = 0x80045707;

/** The two ioctls Patroni issues on the open device. Both return the timeout now in effect. */
export interface WatchdogIoctl {
  setTimeout(fd: number, seconds: number): number;
  getTimeout(fd: number): number;
}

const HELPER = [
  'import fcntl, struct, sys',
  'fd = 3',
  `if sys.argv[1] == "set": fcntl.ioctl(fd, ${WDIOC_SETTIMEOUT}, struct.pack("i", int(sys.argv[2])))`,
  `sys.stdout.write(str(struct.unpack("i", fcntl.ioctl(fd, ${WDIOC_GETTIMEOUT}, struct.pack("i", 0)))[0]))`,
].join('\n');

/** ioctl() through python3's fcntl, on the descriptor passed as the child's fd 3. */
export class PythonWatchdogIoctl implements WatchdogIoctl {
  constructor(readonly python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3') {}

  private run(fd: number, args: string[]): number {
    const r = spawnSync(this.python, ['-c', HELPER, ...args], { stdio: ['ignore', 'pipe', 'pipe', fd], timeout: 10_000 });
    if (r.error) throw new Error(`${this.python}: ${r.error.message}`);
    const out = Number(r.stdout.toString().trim());
    if (r.status !== 0 || !Number.isInteger(out)) {
      const err = r.stderr.toString().trim().split('\n').pop() ?? `exit ${r.status}`;
      throw new Error(err);
    }
    return out;
  }

  setTimeout(fd: number, seconds: number): number { return this.run(fd, ['set', String(seconds)]); }
  getTimeout(fd: number): number { return this.run(fd, ['get']); }
}

/** The device's timeout in seconds from /sys/class/watchdog, or null when unknown. */
function sysfsTimeout(device: string): number | null {
  try {
    for (const d of readdirSync('/sys/class/watchdog')) {
      const dev = readFileSync(`/sys/class/watchdog/${d}/dev`, 'utf8').trim();
      const name = basename(device);
      if (d === name || (name === 'watchdog' && d === 'watchdog0') || dev) {
        const t = Number(readFileSync(`/sys/class/watchdog/${d}/timeout`, 'utf8').trim());
        if (Number.isFinite(t)) return t;
      }
    }
  } catch { /* no sysfs entry */ }
  return null;
}

export class KernelWatchdog {
  private fd: number | null = null;
  /** Activation was wanted (required) and failed. */
  failed = false;
  /** automatic mode gave up on the device: as Patroni, retried only when the configuration changes (no log spam). */
  private gaveUp = false;

  /**
   * @param maxTimeout the timeout to set: ttl - safety_margin (the fence's fireAfter)
   * @param ioctl how WDIOC_SETTIMEOUT/GETTIMEOUT are issued (tests pass a recording double)
   */
  constructor(readonly mode: WatchdogMode, readonly device: string, private maxTimeout: number, private readonly logger: Logger,
    private readonly ioctl: WatchdogIoctl = new PythonWatchdogIoctl()) {}

  get active(): boolean { return this.fd !== null; }

  private describe(): string { return `Linux watchdog device${this.device !== '/dev/watchdog' ? ` at ${this.device}` : ''}`; }

  /** Open the device (which starts its timer) and set its timeout. True when the node may act as a primary. */
  activate(): boolean {
    if (this.mode === 'off' || this.fd !== null || this.gaveUp) return true;
    if (!existsSync(this.device)) return this.fail(`${this.device} does not exist`);
    try {
      this.fd = openSync(this.device, 'w');
    } catch (e) {
      return this.fail(`cannot open ${this.device}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const actual = this.applyTimeout();
    if (actual === null || actual > this.maxTimeout) {
      const why = actual === null
        ? `could not set or read the timeout of ${this.device}`
        : `a safe watchdog timeout ${this.maxTimeout} could not be configured. Watchdog timeout is ${actual}.`;
      if (this.mode === 'required') {
        this.disable();
        return this.fail(why);
      }
      this.logger.warn(actual === null ? why : `Watchdog timeout ${actual} seconds does not ensure safe termination within ${this.maxTimeout} seconds`);
    } else {
      this.logger.info(`${this.describe()} activated with ${actual} second timeout`);
    }
    this.failed = false;
    return true;
  }

  /** Set maxTimeout on the open device; the timeout in effect afterwards (sysfs without the helper), or null. */
  private applyTimeout(): number | null {
    try {
      return this.ioctl.setTimeout(this.fd!, this.maxTimeout);
    } catch (e) {
      this.logger.warn(`Could not set timeout on watchdog device: ${e instanceof Error ? e.message : String(e)}`);
      return sysfsTimeout(this.device);
    }
  }

  /** Patroni's levels: a WARNING then an ERROR when the watchdog is required; DEBUG in automatic mode. */
  private fail(why: string): boolean {
    if (this.mode === 'required') {
      this.failed = true;
      this.logger.warn(`Could not activate ${this.describe()}: ${why}`);
      this.logger.error('Configuration requires watchdog, but watchdog could not be activated');
      return false;
    }
    this.logger.debug(`Could not activate ${this.describe()}: ${why}`);
    this.gaveUp = true;
    return true;
  }

  /** ttl (or safety_margin) changed: an open device gets the new timeout, as Patroni's keepalive applies it. */
  setTimeout(maxTimeout: number): void {
    if (maxTimeout === this.maxTimeout) return;
    this.maxTimeout = maxTimeout;
    this.gaveUp = false;
    if (this.fd === null) return;
    const actual = this.applyTimeout();
    if (actual !== null && actual <= maxTimeout) {
      this.logger.info(`${this.describe()} updated with ${actual} second timeout`);
      return;
    }
    // The device cannot keep the promise any more: reopen, which fails (required) or warns.
    this.disable();
    this.activate();
  }

  keepalive(): void {
    if (this.fd !== null) writeSync(this.fd, '1');
  }

  /** Magic close: 'V' disarms the device before closing (pause, demotion, shutdown). */
  disable(): void {
    if (this.fd === null) return;
    try { writeSync(this.fd, 'V'); } catch (e) { this.logger.error(`Error while disabling watchdog: ${String(e)}`); }
    closeSync(this.fd);
    this.fd = null;
  }
}
