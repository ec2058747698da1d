/**
 * The demo's agents: `pgha run nodeN.yml` child processes (as the unprivileged user when we are
 * root), each in its own process group so a terminal's Ctrl-C reaches only the demo, which then
 * stops them by PID: SIGTERM, a grace period, SIGKILL; then any postmaster still alive by the PID
 * in its data directory's postmaster.pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive, waitForPidExit } from '@pgha/core';
import type { DemoNode } from './config.js';
import type { RunAs } from './os-user.js';
import { launchOf } from '../node-flags.js';


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** The environment for agents: ours without PATRONI_* / PGHA_* overrides (the YAML is the whole truth). */
function agentEnv(runAs: RunAs | null, home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PATRONI|PGHA)_/.test(k) && !/^PG[A-Z]/.test(k)) env[k] = v;
  if (runAs) Object.assign(env, { HOME: home, USER: runAs.name, LOGNAME: runAs.name });
  return env;
}

/** The postmaster PID recorded in a data directory, if that process is alive and is a postgres. */
export function postmasterPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  if (!(pid > 0) || !pidAlive(pid)) return null;
  try {
    // Guard against PID reuse: the process must be a postgres (Linux /proc; elsewhere trust the file).
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmd.includes('postgres')) return null;
  } catch { /* no /proc */ }
  return pid;
}

export class Agent {
  child: ChildProcess | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  onExit: ((a: Agent) => void) | null = null;

  constructor(readonly node: DemoNode, private readonly cliBin: string, private readonly runAs: RunAs | null) {}

  get logFile(): string { return join(this.node.dir, 'agent.log'); }
  get pid(): number | null { return this.child?.pid ?? null; }
  get running(): boolean { return !!this.child && !this.exit; }

  start(): void {
    const fd = openSync(this.logFile, 'a');
    try {
      this.exit = null;
      const launch = launchOf(this.cliBin);
      const child = spawn(process.execPath, [...launch.flags, this.cliBin, 'run', this.node.configPath], {
        cwd: this.node.dir,
        env: { ...agentEnv(this.runAs, this.node.dir), ...launch.env },
        stdio: ['ignore', fd, fd],
        detached: true,
        ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      this.child = child;
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.onExit?.(this);
      });
      child.once('error', () => { if (!this.exit) this.exit = { code: -1, signal: null }; this.onExit?.(this); });
    } finally {
      closeSync(fd);
    }
  }

  /** Resolves true once our child has exited and been reaped (its 'exit' event), false after `ms`. */
  private async waitExit(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.exit && Date.now() < deadline) await sleep(50);
    return !!this.exit;
  }

  /** SIGTERM (the agent stops PostgreSQL and releases its keys), then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const pid = this.pid;
    if (!pid || !this.running) return;
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    if (await this.waitExit(graceMs)) return;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await this.waitExit(5000);
  }

  killNow(): void {
    const pid = this.pid;
    if (pid && this.running) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }

  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** Stop a postmaster by PID: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL. */
export async function stopPostmaster(pid: number): Promise<void> {
  for (const [sig, ms] of [['SIGINT', 15_000], ['SIGQUIT', 5000], ['SIGKILL', 5000]] as const) {
    try { process.kill(pid, sig); } catch { return; }
    if (await waitForPidExit(pid, ms)) return;
  }
}

/**
 * Can the agents' user run the CLI from here and write the demo directory? (A checkout under
 * /root is unreadable for other users.) Returns an error message or null.
 */
export function checkRunAsAccess(runAs: RunAs, cliBin: string, dir: string): string | null {
  const r = spawnSync(process.execPath, [cliBin, '--version'], { uid: runAs.uid, gid: runAs.gid, cwd: dir, env: agentEnv(runAs, dir), stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  if (r.status === 0) return null;
  const why = r.error ? r.error.message : (r.stderr?.toString().trim().split('\n').slice(-3).join(' ') ?? '');
  return `the user '${runAs.name}' cannot run ${cliBin} in ${dir} (${why}). Make the checkout readable by that user, or use --dir with a directory it can reach.`;
}
