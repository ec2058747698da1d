/**
 * One long action at a time (bootstrap, clone, promote, rewind...), run in the background so the
 * HA cycle keeps refreshing the lock. Its start and end are reported as events (the next decision
 * folds them into memory); cancellation aborts the signal handed to the action, which reaches the
 * child process it runs. The agent is woken when it ends.
 */
import type { HaEvent, LongActionName } from '../ha/types.js';
import type { Logger } from '../log.js';

export class LongActionRunner {
  private current: { name: LongActionName; label: string; since: number; ac: AbortController; done: Promise<unknown> } | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly onDone: () => void,
    private readonly now: () => number,
    private readonly report: (e: HaEvent) => void = () => undefined,
  ) {}

  get running(): { name: LongActionName; label: string; since: number } | null {
    return this.current && { name: this.current.name, label: this.current.label, since: this.current.since };
  }

  /**
   * Start `fn` unless something runs already (then null). The promise resolves with its result (an
   * Error when it threw or was cancelled); `ok` in the done event is `result === true`.
   */
  run<T>(name: LongActionName, label: string, fn: (signal: AbortSignal) => Promise<T>, role?: 'primary' | 'replica'): Promise<T | Error> | null {
    if (this.current) return null;
    const ac = new AbortController();
    const since = this.now();
    this.logger.info(`${label}: started`);
    this.report({ type: 'long_action_started', name, label, since, ...(role ? { role } : {}) });
    const done = (async () => {
      let result: T | Error;
      try {
        result = await fn(ac.signal);
        if (ac.signal.aborted && result !== true) result = new Error(`${label} cancelled`);
      } catch (e) {
        result = e instanceof Error ? e : new Error(String(e));
        this.logger.error(`${label} failed: ${result.message}`);
      }
      this.current = null;
      this.report({ type: 'long_action_done', name, ok: result === true, ...(role ? { role } : {}) });
      this.onDone();
      return result;
    })();
    this.current = { name, label, since, ac, done };
    return done;
  }

  /** Abort the running action: its signal fires and the child process it runs is killed. */
  cancel(): void {
    this.current?.ac.abort();
  }

  async wait(): Promise<void> {
    await this.current?.done;
  }
}
