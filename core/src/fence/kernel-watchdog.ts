/**
 * Patroni's `watchdog` section for /dev/watchdog: `mode` off / automatic / required, `device`.
 * Node cannot issue the WDIOC_SETTIMEOUT ioctl, so the device's configured timeout (read from
 * sysfs) must already be short enough: at most ttl - safety_margin. An unusable device fails
 * activation: fatal for promotion in `required` mode, a warning in `automatic` mode.
 */
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

/** The device's timeout in seconds from /sys/class/watchdog, or null when unknown. */
function deviceTimeout(device: string): number | null {
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

  constructor(readonly mode: WatchdogMode, readonly device: string, private maxTimeout: number, private readonly logger: Logger) {}

  get active(): boolean { return this.fd !== null; }

  /** Open the device (which starts its timer). True when the node may act as a primary. */
  activate(): boolean {
    if (this.mode === 'off' || this.fd !== null) return true;
    const problem = (): string | null => {
      if (!existsSync(this.device)) return `${this.device} does not exist`;
      const t = deviceTimeout(this.device);
      if (t === null) return `cannot read the timeout of ${this.device}`;
      if (t > this.maxTimeout) return `${this.device} timeout ${t}s exceeds ttl - safety_margin (${this.maxTimeout}s) and cannot be set from Node`;
      return null;
    };
    const why = problem();
    if (!why) {
      try {
        this.fd = openSync(this.device, 'w');
        this.failed = false;
        return true;
      } catch (e) {
        return this.fail(`cannot open ${this.device}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return this.fail(why);
  }

  private lastNotUsed: string | null = null;

  private fail(why: string): boolean {
    if (this.mode === 'required') {
      this.failed = true;
      this.logger.error(`watchdog is required but unusable: ${why}`);
      return false;
    }
    if (this.lastNotUsed !== why) this.logger.warn(`watchdog not used: ${why}`); // once, not every cycle
    this.lastNotUsed = why;
    return true;
  }

  /** The fence timing changed: an open device whose timeout is now too long is re-checked (and fails). */
  setTimeout(maxTimeout: number): void {
    this.maxTimeout = maxTimeout;
    if (this.fd !== null && (deviceTimeout(this.device) ?? Infinity) > maxTimeout) {
      this.disable();
      this.activate();
    }
  }

  keepalive(): void {
    if (this.fd !== null) writeSync(this.fd, '1');
  }

  /** Magic close: 'V' disarms the device before closing. */
  disable(): void {
    if (this.fd === null) return;
    try { writeSync(this.fd, 'V'); } catch { /* closing anyway */ }
    closeSync(this.fd);
    this.fd = null;
  }
}
