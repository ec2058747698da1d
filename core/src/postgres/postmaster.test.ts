/**
 * The adopted postmaster's liveness check (pidChecker, one pread of /proc/PID/stat per probe) and the
 * background probe built on it: a live process, a stopped one, a zombie and a reaped one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptPostmaster, pidChecker } from './postmaster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: ChildProcess[] = [];

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(c);
  return c;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('pidChecker', () => {
  it('a running or stopped process is alive; once killed and reaped it is not', async () => {
    const c = start('sleep', ['30']);
    const check = pidChecker(c.pid!);
    try {
      expect(check.alive()).toBe(true);
      process.kill(c.pid!, 'SIGSTOP');
      await sleep(50);
      expect(check.alive()).toBe(true); // frozen is not dead: the fence decides about frozen servers
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
      expect(await until(() => !check.alive(), 2000)).toBe(true);
    } finally {
      check.close();
    }
  });

  it('a zombie (dead, its parent has not reaped it) is not alive', async () => {
    // The shell becomes `sleep 30`, which never reaps the short sleep it started.
    const parent = start('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30']);
    const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const check = pidChecker(pid);
    try {
      expect(check.alive()).toBe(true);
      expect(await until(() => !check.alive(), 3000)).toBe(true);
      process.kill(pid, 0); // still exists as a zombie: kill(0) alone would call it alive
    } finally {
      check.close();
    }
  });

  it('a check after close() says gone, and a PID with no process is gone from the start', () => {
    const check = pidChecker(process.pid);
    expect(check.alive()).toBe(true);
    check.close();
    expect(check.alive()).toBe(false);
    expect(pidChecker(2 ** 22 + 1).alive()).toBe(false);
  });
});

describe('adoptPostmaster', () => {
  it('resolves `exited` within a probe interval of the process dying', async () => {
    const c = start('sleep', ['30']);
    const watched = adoptPostmaster(c.pid!, 100);
    let exited = false;
    void watched.exited.then(() => { exited = true; });
    await sleep(300);
    expect(exited).toBe(false);
    c.kill('SIGKILL');
    expect(await until(() => exited, 2000)).toBe(true);
    watched.stopWatching();
  });

  it('probe() finds the exit at once, without waiting for the background beat', async () => {
    const c = start('sleep', ['30']);
    const watched = adoptPostmaster(c.pid!, 60_000);
    let exited = false;
    void watched.exited.then(() => { exited = true; });
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
    watched.probe();
    await sleep(0);
    expect(exited).toBe(true);
  });
});
