/** Find, freeze, thaw and kill a PostgreSQL instance's processes by PID (from postmaster.pid and /proc). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The postmaster PID of `dataDir` if that process is alive and is a postgres. */
export function postmasterOf(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!(pid > 0)) return null;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('postgres') ? pid : null;
  } catch {
    return null;
  }
}

/** Direct children of `pid` (PostgreSQL backends and auxiliary processes are the postmaster's children). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

const signal = (pid: number, sig: NodeJS.Signals) => { try { process.kill(pid, sig); } catch { /* gone */ } };

/** SIGSTOP the postmaster first (so it forks no new child), then every child: no more commits can be acknowledged. */
export function freeze(pm: number): void {
  signal(pm, 'SIGSTOP');
  for (const c of childrenOf(pm)) signal(c, 'SIGSTOP');
}

export function thaw(pm: number): void {
  for (const c of childrenOf(pm)) signal(c, 'SIGCONT');
  signal(pm, 'SIGCONT');
}

/** Freeze, then SIGKILL everything: works on stopped processes, and leaves no writer behind. */
export function kill(pm: number): void {
  freeze(pm);
  for (const c of childrenOf(pm)) signal(c, 'SIGKILL');
  signal(pm, 'SIGKILL');
}

/** /proc state letter (`T` = stopped), or null when the process is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * PostgreSQL processes left behind by a dead postmaster of `dataDir` (their working directory is the
 * data directory; re-parented to init). A postmaster killed while its children were frozen leaves
 * them stopped for ever, attached to the old shared memory, which would refuse the next start.
 */
export function leftoverProcesses(dataDir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/cwd`) !== dataDir || !/\/postgres$/.test(readlinkSync(`/proc/${e}/exe`))) continue;
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === 1) out.push(Number(e));
    } catch { /* exited meanwhile, or not ours to read */ }
  }
  return out;
}

/** SIGKILL every leftover of a dead postmaster of `dataDir` (works on stopped processes too). */
export function killLeftovers(dataDir: string): number[] {
  const pids = leftoverProcesses(dataDir);
  for (const p of pids) signal(p, 'SIGKILL');
  return pids;
}
