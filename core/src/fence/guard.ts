/**
 * What stands between a primary and split brain besides the DCS lock: the software fence (always)
 * and the kernel watchdog (when configured). The agent feeds both after every successful lock
 * refresh, with a deadline counted from when that refresh was sent.
 */
import type { Logger } from '../log.js';
import { pidAlive } from '../postgres/postmaster.js';
import { FenceClient } from './client.js';
import { KernelWatchdog } from './kernel-watchdog.js';
import type { FenceTiming } from './timing.js';

/** The PID exists at all, zombies included. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class PrimaryGuard {
  private armed = false;
  private lastSentAt: number | null = null;
  private fenceBroken = false;
  /**
   * What the current deadline rests on: a lock refresh the DCS confirmed (`lease`), or — failsafe
   * mode, DCS unreachable — a round of POST /failsafe every listed member accepted (`failsafe`).
   */
  private basisNow: 'lease' | 'failsafe' = 'lease';

  constructor(
    readonly fence: FenceClient,
    readonly watchdog: KernelWatchdog,
    private timing: FenceTiming,
    private readonly logger: Logger,
    private readonly monotonic: () => number,
  ) {
    // The fence died: start a new one and re-arm it at once rather than run unguarded.
    fence.onLost(() => {
      this.logger.error('lost the connection to the fence; restarting it');
      void this.rearm();
    });
  }

  /** Armed and healthy: reported as `fence_armed` in GET /patroni. */
  get isArmed(): boolean { return this.armed && this.fence.connected && !this.fenceBroken; }
  /** The node must not act as a primary: the fence cannot be run, or a required watchdog failed. */
  get unavailable(): boolean { return this.fenceBroken || this.watchdog.failed; }

  private deadlineMs(sentAt: number): number {
    return Math.max(1, Math.round(sentAt + this.timing.fireAfter * 1000 - this.monotonic()));
  }

  get fireAfter(): number { return this.timing.fireAfter; }

  /**
   * ttl, loop_wait or safety_margin changed (through `/config` or a reload): an armed fence gets the
   * deadline the new timing gives for the renewal it was last fed with, earlier or later.
   */
  async retime(timing: FenceTiming): Promise<void> {
    if (timing.fireAfter === this.timing.fireAfter) return;
    this.logger.info(`fence timing: fires ${timing.fireAfter}s after the last lease renewal (was ${this.timing.fireAfter}s)`);
    this.timing = timing;
    this.watchdog.setTimeout(timing.fireAfter);
    if (this.armed && this.lastSentAt !== null) await this.extend(this.lastSentAt);
  }

  private async rearm(): Promise<void> {
    try {
      await this.fence.ensure();
      this.fenceBroken = false;
      if (this.armed && this.lastSentAt !== null) await this.fence.feed(this.deadlineMs(this.lastSentAt));
    } catch (e) {
      this.fenceBroken = true;
      this.logger.error(`cannot restart the fence: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** What the armed deadline rests on (reported in the fence status). */
  get basis(): 'lease' | 'failsafe' { return this.basisNow; }

  /**
   * Failsafe mode: the DCS is unreachable and every member of `/failsafe` accepted this primary in
   * a round of requests sent at `sentAt`. That is the only thing besides a lock refresh that may
   * extend the deadline, and by the same amount (fireAfter < ttl from when the requests were sent:
   * the members remember the primary for ttl from when they received them). Only an armed guard
   * is extended: failsafe keeps a primary, it never makes one.
   */
  async failsafeConfirmed(sentAt: number): Promise<void> {
    if (!this.armed) return;
    if (this.basisNow !== 'failsafe') this.logger.warn('fence: the DCS is unreachable; the deadline now rests on failsafe confirmations');
    this.basisNow = 'failsafe';
    await this.extend(sentAt);
  }

  /** A lock write was sent at `sentAt` and succeeded (null: the lock was released or lost). */
  async lockRefreshed(sentAt: number | null): Promise<void> {
    if (sentAt === null) return; // keep the last deadline: a lost lock must not extend the fence
    if (this.basisNow !== 'lease') this.logger.info('fence: the DCS confirmed the lock again; the deadline rests on the lease');
    this.basisNow = 'lease';
    await this.extend(sentAt);
  }

  private async extend(sentAt: number): Promise<void> {
    this.lastSentAt = sentAt;
    if (!this.watchdog.activate()) return;
    this.watchdog.keepalive();
    try {
      await this.fence.feed(this.deadlineMs(sentAt));
      this.armed = true;
      this.fenceBroken = false;
    } catch (e) {
      this.fenceBroken = true;
      this.logger.error(`cannot feed the fence: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** PostgreSQL is no longer a primary (a replica, or stopped) and we hold no lock: stand down. */
  async standDown(): Promise<void> {
    this.basisNow = 'lease';
    this.watchdog.disable();
    if (!this.armed) return;
    try {
      await this.fence.disarm();
      this.armed = false;
    } catch (e) {
      this.logger.warn(`cannot disarm the fence: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * A restarting agent: if a fence guards this data directory (the previous agent died while
   * primary), keep the primary only when we still hold the lock — refresh it, then feed; else fire.
   */
  async takeOver(refreshLock: () => Promise<number | null>): Promise<'none' | 'kept' | 'fired'> {
    const st = await this.fence.ensure();
    if (!st.armed) return 'none';
    const sentAt = await refreshLock().catch(() => null);
    if (sentAt !== null) {
      this.armed = true;
      await this.lockRefreshed(sentAt);
      this.logger.info(`took over the fence (PostgreSQL was ${st.frozen ? 'frozen' : 'running'}); still the leader`);
      return 'kept';
    }
    await this.fence.fire();
    this.logger.warn('the previous agent was the leader but the lock is gone: the fence stopped PostgreSQL');
    return 'fired';
  }

  /** Agent shutdown: PostgreSQL was stopped, nothing to guard. A disarmed fence exits with us. */
  async close(): Promise<void> {
    await this.standDown();
    const st = await this.fence.existing().catch(() => null);
    this.fence.close();
    // Armed, or still parenting a running PostgreSQL (pause): it stays, by design.
    if (!st || st.armed || (st.child !== null && pidAlive(st.child))) return;
    // It exits once PostgreSQL (its child) is gone and we disconnected; wait so nothing outlives us.
    for (let i = 0; i < 500 && pidAlive(st.pid); i++) await new Promise((r) => setTimeout(r, 20));
    if (pidAlive(st.pid)) return this.logger.warn(`the fence (pid ${st.pid}) is still running after 10 s`);
    // Dead; if we started it, let our event loop reap it so no zombie is left to init.
    for (let i = 0; i < 50 && processExists(st.pid); i++) await new Promise((r) => setTimeout(r, 20));
  }
}
