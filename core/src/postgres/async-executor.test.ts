import { describe, expect, it } from 'vitest';
import { ActionBusyError, AsyncExecutor } from './async-executor.js';
import { runCommand } from './exec.js';
import { pidAlive } from './postmaster.js';

describe('AsyncExecutor', () => {
  it('runs one action at a time and reports it while busy', async () => {
    const ex = new AsyncExecutor();
    let release!: () => void;
    const p = ex.run('initdb', () => new Promise<string>((r) => { release = () => r('done'); }));
    expect(ex.busy).toBe(true);
    expect(ex.current?.name).toBe('initdb');
    expect(() => ex.run('basebackup', async () => 1)).toThrow(ActionBusyError);
    release();
    expect(await p).toBe('done');
    expect(ex.busy).toBe(false);
    expect(ex.lastResult).toEqual({ name: 'initdb', ok: true, value: 'done' });
  });

  it('cancel() aborts the action and its child process is killed by PID', async () => {
    const ex = new AsyncExecutor();
    let pid = 0;
    const p = ex.run('restore', async (signal) => {
      const r = runCommand('/bin/sh', ['-c', 'echo $$; exec sleep 30'], { signal });
      await new Promise((res) => setTimeout(res, 200));
      pid = Number((await Promise.race([r, new Promise<null>((res) => setTimeout(() => res(null), 10))]))?.stdout ?? 0);
      return r;
    });
    await new Promise((res) => setTimeout(res, 100));
    const t0 = Date.now();
    expect(await ex.cancel()).toBe(true);
    const r = await p;
    expect(r.signal).toBe('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(ex.busy).toBe(false);
    expect(pid === 0 || !pidAlive(pid)).toBe(true);
    expect(await ex.cancel()).toBe(false);
  });
});
