/** Freeze and kill a PostgreSQL instance's processes by PID (from /proc): the postmaster and its children. */
import { readdirSync, readFileSync } from 'node:fs';

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

/** Freeze, then SIGKILL everything: works on stopped processes, and leaves no writer behind. */
export function killPostmasterTree(pm: number): void {
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
