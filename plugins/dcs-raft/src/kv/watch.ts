/** Local watches: wait (in real time) for a key of a KvState to change version. */
import type { KvChange } from './commands.js';
import type { KvState } from './state.js';

export function waitForChange(state: KvState, key: string, version: number | null, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const differs = () => (state.get(key)?.index ?? null) !== version;
  if (version !== null && differs()) return Promise.resolve(true);
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (v: boolean) => {
      clearTimeout(timer);
      state.events.off('change', onChange);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const onChange = (c: KvChange) => { if (c.key === key && differs()) finish(true); };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    state.events.on('change', onChange);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
