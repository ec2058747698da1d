/**
 * One long action at a time (initdb, custom bootstrap, basebackup, restore, rewind), run in the
 * background so the HA loop keeps cycling; cancellable through the AbortSignal handed to the action.
 */
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export interface RunningAction {
  readonly name: string;
  readonly startedAt: number;
  readonly promise: Promise<unknown>;
}

export class ActionBusyError extends Error {
  constructor(readonly running: string, requested: string) {
    super(`cannot run ${requested}: ${running} is in progress`);
  }
}

export class AsyncExecutor {
  private active: (RunningAction & { controller: AbortController }) | null = null;
  /** The last finished action and how it ended, for status reports. */
  lastResult: { name: string; ok: boolean; value?: unknown; error?: unknown } | null = null;

  constructor(private readonly logger: Logger = silentLogger) {}

  get busy(): boolean { return this.active !== null; }
  get current(): RunningAction | null { return this.active; }

  /** Start `fn` in the background; throws ActionBusyError when another action runs. */
  run<T>(name: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.active) throw new ActionBusyError(this.active.name, name);
    const controller = new AbortController();
    const startedAt = Date.now();
    this.logger.info({ action: name }, `${name}: started`);
    const progress = setInterval(() => {
      this.logger.info({ action: name, seconds: Math.round((Date.now() - startedAt) / 1000) }, `${name}: still running`);
    }, 10_000);
    progress.unref();
    const promise = (async () => {
      try {
        const value = await fn(controller.signal);
        this.lastResult = { name, ok: true, value };
        this.logger.info({ action: name, ms: Date.now() - startedAt }, `${name}: finished`);
        return value;
      } catch (error) {
        this.lastResult = { name, ok: false, error };
        this.logger.warn({ action: name, err: String(error) }, `${name}: failed`);
        throw error;
      } finally {
        clearInterval(progress);
        this.active = null;
      }
    })();
    this.active = { name, startedAt, promise, controller };
    return promise;
  }

  /** Abort the running action (its child processes are killed) and wait for it to end. */
  async cancel(): Promise<boolean> {
    const a = this.active;
    if (!a) return false;
    this.logger.info({ action: a.name }, `${a.name}: cancelling`);
    a.controller.abort();
    await a.promise.catch(() => undefined);
    return true;
  }
}
