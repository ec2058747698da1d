/**
 * Child processes for PostgreSQL tools and user scripts: run as the unprivileged PostgreSQL user
 * when we are root, cancellable by AbortSignal (the child is killed by its PID), output logged.
 */
import { spawn } from 'node:child_process';
import { chownSync } from 'node:fs';
import type { Logger } from '../log.js';

/** The OS user postgres and every PostgreSQL tool runs as; null = the agent's own user. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface RunOptions {
  readonly runAs?: RunAs | null;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  /** Kill the child after this many ms (0 = never). */
  readonly timeoutMs?: number;
  /**
   * Each complete output line (split on \n and \r, as progress meters rewrite their line); return
   * true when the line was consumed (e.g. a progress report) and should not be logged.
   */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => boolean | void;
}

export interface RunResult {
  /** Exit code; -1 when killed by a signal or when it could not start. */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const KEEP = 64 * 1024;

/**
 * Where user commands (custom bootstrap, post_bootstrap, replica-creation methods, pre_promote) run:
 * the directory the agent was started in, as Patroni runs them, so relative paths in `command:` work.
 * PostgreSQL's own tools keep running from /tmp (the postgres user may not enter the agent's directory).
 */
export function userCommandCwd(): string {
  return process.cwd();
}

function signalGroupOrPid(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig); // the whole process group: a script's children (cp, pg_basebackup) too
    return true;
  } catch {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

/** Sends SIGTERM to the child (and its process group), then SIGKILL after `graceMs` if still there. */
export function killByPid(pid: number, graceMs = 5000): void {
  if (!signalGroupOrPid(pid, 'SIGTERM')) return;
  setTimeout(() => signalGroupOrPid(pid, 'SIGKILL'), graceMs).unref();
}

export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    if (opts.signal?.aborted) {
      resolve({ code: -1, signal: null, stdout: '', stderr: 'aborted before start' });
      return;
    }
    const env = { ...process.env, ...opts.env };
    if (opts.runAs && env.HOME === process.env.HOME && process.getuid?.() === 0) env.HOME = '/tmp';
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd ?? '/tmp',
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group, so cancelling kills whatever the tool or script started.
      detached: true,
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    const log = opts.logger?.child({ tool: cmd.split('/').pop() });
    const emit = (line: string, which: 'stdout' | 'stderr') => {
      if (!line.trim()) return;
      let consumed = false;
      try {
        consumed = opts.onLine?.(line, which) === true;
      } catch { /* a broken parser must not break the run */ }
      if (!consumed) log?.info(line.trimEnd());
    };
    // Without onLine each chunk is logged as it comes (unchanged); with it, whole lines are assembled.
    const partial = { stdout: '', stderr: '' };
    const onLine = (chunk: Buffer, which: 'stdout' | 'stderr') => {
      const text = chunk.toString();
      if (which === 'stdout') stdout = (stdout + text).slice(-KEEP);
      else stderr = (stderr + text).slice(-KEEP);
      if (!opts.onLine) {
        for (const line of text.split('\n')) if (line.trim()) log?.info(line.trimEnd());
        return;
      }
      const parts = (partial[which] + text).split(/[\r\n]/);
      partial[which] = parts.pop()!.slice(-KEEP);
      for (const line of parts) emit(line, which);
    };
    const flush = () => {
      for (const which of ['stdout', 'stderr'] as const) if (partial[which]) emit(partial[which], which);
      partial.stdout = partial.stderr = '';
    };
    child.stdout!.on('data', (b: Buffer) => onLine(b, 'stdout'));
    child.stderr!.on('data', (b: Buffer) => onLine(b, 'stderr'));
    child.stdin!.on('error', () => { /* child may exit before reading stdin */ });
    child.stdin!.end(opts.input ?? '');
    const abort = () => child.pid && killByPid(child.pid);
    opts.signal?.addEventListener('abort', abort, { once: true });
    const timer = opts.timeoutMs ? setTimeout(abort, opts.timeoutMs) : null;
    const finish = (r: RunResult) => {
      opts.signal?.removeEventListener('abort', abort);
      if (timer) clearTimeout(timer);
      resolve(r);
    };
    child.once('error', (e) => finish({ code: -1, signal: null, stdout, stderr: `${stderr}${e.message}` }));
    child.once('close', (code, signal) => {
      if (opts.onLine) flush();
      finish({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

/** Give a file or directory we created to the PostgreSQL user. */
export function chownTo(path: string, runAs: RunAs | null | undefined): void {
  if (runAs && process.getuid?.() === 0) chownSync(path, runAs.uid, runAs.gid);
}

/** POSIX-shell-like word splitting (quotes and backslashes), as Python's shlex.split. */
export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`No closing quotation in: ${s}`);
  if (inWord) out.push(cur);
  return out;
}
