/**
 * One long action at a time (bootstrap, clone, promote, rewind...), run in the background so the
 * HA cycle keeps refreshing the lock. Cancellable; the agent is woken when it ends.
 */
import type { LongActionName } from '../ha/types.js';
import type { Logger } from '../log.js';

export class LongActionRunner {
  private current: { name: LongActionName; label: string; since: number; ac: AbortController; done: Promise<void> } | null = null;

  constructor(private readonly logger: Logger, private readonly onDone: () => void, private readonly now: () => number) {}

  get running(): { name: LongActionName; label: string; since: number } | null {
    return this.current && { name: this.current.name, label: this.current.label, since: this.current.since };
  }

  /** Start `fn` unless something runs already (then false). `after` gets the result, even on failure. */
  run<T>(name: LongActionName, label: string, fn: (signal: AbortSignal) => Promise<T>, after: (result: T | Error) => void): boolean {
    if (this.current) return false;
    const ac = new AbortController();
    this.logger.info(`${label}: started`);
    const done = (async () => {
      let result: T | Error;
      try {
        result = await fn(ac.signal);
      } catch (e) {
        result = e instanceof Error ? e : new Error(String(e));
        this.logger.error(`${label} failed: ${result.message}`);
      }
      this.current = null;
      try {
        after(result);
      } finally {
        this.onDone();
      }
    })();
    this.current = { name, label, since: this.now(), ac, done };
    return true;
  }

  cancel(): void {
    this.current?.ac.abort();
  }

  async wait(): Promise<void> {
    await this.current?.done;
  }
}
