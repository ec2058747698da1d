/**
 * Child processes in tests: started with spawn (as the unprivileged user when we are root), always
 * stopped by PID (never by name), with escalation from SIGTERM to SIGKILL.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processState } from '@pgha/core';
import { runAsOptions } from './user.js';

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Tail of combined stdout/stderr, for failure messages. */
  output(): string;
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<Proc>();

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process has ended: gone, or a zombie. A killed orphan stays a zombie until PID 1 reaps it,
 * and this project's machines' PID 1 (firecracker's process_api) reaps only every 1-2 s: a bound
 * tighter than that on `!isAlive` measures the init, not what killed the process.
 */
export function hasExited(pid: number): boolean {
  const state = processState(pid);
  return state === null || state === 'Z';
}

export function startProc(cmd: string, args: string[], opts: SpawnOptions & { asUser?: boolean; logFile?: string } = {}): Proc {
  const { asUser = false, logFile, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(asUser ? runAsOptions() : {}), ...spawnOpts });
  if (!child.pid) throw new Error(`failed to start ${cmd}`);
  let tail = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null;
  const onData = (b: Buffer) => {
    tail = (tail + b.toString()).slice(-8000);
    log?.write(b);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log?.end();
      resolve(code ?? signal ?? -1);
    });
  });
  const proc: Proc = {
    child,
    pid: child.pid,
    exited,
    output: () => tail,
    async stop(timeoutMs = 10_000) {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
  running.add(proc);
  return proc;
}

/** Stop every process this test file started and has not stopped yet. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Poll `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs: number, what: string, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The postmaster PID from `dataDir`/postmaster.pid, if that process is alive. */
export function postmasterPidOf(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}
