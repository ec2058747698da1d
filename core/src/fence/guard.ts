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

export class PrimaryGuard {
  private armed = false;
  private lastSentAt: number | null = null;
  private fenceBroken = false;

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
    if (this.armed && this.lastSentAt !== null) await this.lockRefreshed(this.lastSentAt);
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

  /** A lock write was sent at `sentAt` and succeeded (null: the lock was released or lost). */
  async lockRefreshed(sentAt: number | null): Promise<void> {
    if (sentAt === null) return; // keep the last deadline: a lost lock must not extend the fence
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
    if (!st || st.armed) return;
    for (let i = 0; i < 100 && pidAlive(st.pid); i++) await new Promise((r) => setTimeout(r, 20));
  }
}
