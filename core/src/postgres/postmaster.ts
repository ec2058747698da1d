/**
 * The postmaster process: started by us (so its exit is an event, not something found at the next
 * poll), or adopted from postmaster.pid after an agent restart (then watched by a cheap PID probe).
 * `stopPostmasterByPid` is standalone on purpose: a fencing supervisor can call it without a controller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { chownTo, type RunAs } from './exec.js';

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

const SIGNAL_FOR: Record<ShutdownMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };

export interface PostmasterPidFile {
  readonly pid: number;
  readonly dataDir: string;
  readonly startTime: number;
  readonly port: number;
  readonly socketDir: string;
  readonly listenAddr: string;
  /** `starting`, `stopping`, `ready` or `standby` (PostgreSQL >= 10). */
  readonly status: string;
}

export function readPostmasterPid(dataDir: string): PostmasterPidFile | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const l = text.split('\n');
  const pid = Number(l[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return {
    pid, dataDir: l[1] ?? '', startTime: Number(l[2] ?? 0), port: Number(l[3] ?? 0), socketDir: l[4] ?? '',
    listenAddr: l[5] ?? '', status: (l[7] ?? '').trim(),
  };
}

/** The process exists and is not a zombie (an orphan killed by a signal may wait a while to be reaped). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** The running postmaster of this PGDATA, or null (stale postmaster.pid files are ignored). */
export function runningPostmaster(dataDir: string): PostmasterPidFile | null {
  const pf = readPostmasterPid(dataDir);
  return pf && pidAlive(pf.pid) ? pf : null;
}

/**
 * Signal the postmaster of `dataDir` to shut down in `mode` (immediate = SIGQUIT). Returns the PID
 * signalled, or null when no postmaster runs. Does not wait.
 */
export function stopPostmasterByPid(dataDir: string, mode: ShutdownMode = 'immediate'): number | null {
  const pf = runningPostmaster(dataDir);
  if (!pf) return null;
  try {
    process.kill(pf.pid, SIGNAL_FOR[mode]);
  } catch {
    return null;
  }
  return pf.pid;
}

export function signalPostmaster(pid: number, mode: ShutdownMode): boolean {
  try {
    process.kill(pid, SIGNAL_FOR[mode]);
    return true;
  } catch {
    return false;
  }
}

export interface PostmasterExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A postmaster we watch: `exited` resolves when it is gone, whoever ended it. */
export interface WatchedPostmaster {
  readonly pid: number;
  readonly exited: Promise<PostmasterExit>;
  /** True when we spawned it (exit is reported by the kernel); false when adopted (PID probe). */
  readonly spawned: boolean;
  /**
   * Check now, and resolve `exited` if it is gone. Whoever waits for an exit (a stop, a start that
   * may fail) probes on its own beat; the background probe is slow because it runs for the
   * postmaster's whole life.
   */
  probe(): void;
  stopWatching(): void;
}

export interface SpawnPostmasterOptions {
  readonly postgres: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly gucs: Readonly<Record<string, string>>;
  readonly runAs: RunAs | null;
  /** Server output (before logging_collector takes over) goes here. */
  readonly logFile: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** PostgreSQL's environment: ours plus `env`, without PGDATA (the command line names the directory). */
export function postmasterEnv(env?: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...process.env, ...env } as Record<string, string>;
  delete out.PGDATA;
  return out;
}

export function postmasterArgs(o: Pick<SpawnPostmasterOptions, 'dataDir' | 'configFile' | 'gucs'>): string[] {
  return ['-D', o.dataDir, `--config-file=${o.configFile}`, ...Object.entries(o.gucs).map(([k, v]) => `--${k}=${v}`)];
}

/** Spawn postgres in its own process group (it must outlive the agent) with output to a log file. */
export function spawnPostmaster(o: SpawnPostmasterOptions): WatchedPostmaster {
  const fd = openSync(o.logFile, 'a', 0o600);
  chownTo(o.logFile, o.runAs);
  let child: ChildProcess;
  try {
    child = spawn(o.postgres, postmasterArgs(o), {
      cwd: o.dataDir, env: postmasterEnv(o.env), detached: true, stdio: ['ignore', fd, fd],
      ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
    });
  } finally {
    closeSync(fd);
  }
  child.unref();
  const exited = new Promise<PostmasterExit>((resolve) => {
    child.once('error', () => resolve({ pid: child.pid ?? -1, code: -1, signal: null }));
    child.once('exit', (code, signal) => resolve({ pid: child.pid ?? -1, code, signal }));
  });
  return { pid: child.pid ?? -1, exited, spawned: true, probe() { /* the exit event comes by itself */ }, stopWatching() { /* the exit event costs nothing */ } };
}

/**
 * The background probe of an adopted postmaster: a backstop. An idle agent's largest single cost
 * was this probe at 100 ms (a fifth of its CPU), still a twentieth at 1 s. A crash is found at once
 * without it: the agent's own connection ends when its backend sees the postmaster die, and that
 * probes (controller.ts); the waits that need an exit promptly call `probe()` themselves.
 */
export const ADOPTED_PROBE_MS = 5000;

/**
 * A liveness check of one process through a descriptor of its `/proc/PID/stat`, opened once: each
 * check is one pread instead of kill(0) plus an open/read/close of the file (the probe runs every
 * second for the postmaster's whole life). The descriptor stays tied to that process, so a reused
 * PID cannot pass for it; once reaped the read fails (ESRCH). Without procfs: kill(0) and the file.
 */
export function pidChecker(pid: number): { alive(): boolean; close(): void } {
  let fd: number | null = null;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return { alive: () => pidAlive(pid), close() { /* nothing open */ } };
  }
  const buf = Buffer.alloc(1024);
  return {
    alive() {
      if (fd === null) return false;
      let text: string;
      try {
        text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
      } catch {
        return false;
      }
      const end = text.lastIndexOf(')');
      return end > 0 && text.charAt(end + 2) !== 'Z';
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Watch a postmaster we did not start (or one the fence started) by probing its PID. */
export function adoptPostmaster(pid: number, intervalMs = ADOPTED_PROBE_MS): WatchedPostmaster {
  let timer: NodeJS.Timeout | null = null;
  let resolveExit!: (e: PostmasterExit) => void;
  const exited = new Promise<PostmasterExit>((resolve) => { resolveExit = resolve; });
  const check = pidChecker(pid);
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
    check.close();
  };
  const probe = () => {
    if (timer === null || check.alive()) return;
    stop();
    resolveExit({ pid, code: null, signal: null });
  };
  timer = setInterval(probe, intervalMs);
  timer.unref();
  return { pid, exited, spawned: false, probe, stopWatching: stop };
}

/** Resolves true when the PID is gone within `timeoutMs`. */
export async function waitForPidExit(pid: number, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return true;
}
