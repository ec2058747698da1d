/**
 * A process and its descendants from /proc (ppid links), split into PostgreSQL processes and the
 * rest: what `kill -9 -- -PGID`, `pkill -9 -f pgha` or a supervisor killing the agent's process
 * tree hits, minus PostgreSQL — the case the fence must survive.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function ppidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function isPostgres(pid: number): boolean {
  try {
    return /\/postgres$/.test(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return false;
  }
}

/** `root` and every live descendant. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const ppid = ppidOf(pid);
    if (ppid !== null) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** The agent's tree without PostgreSQL (the agent, the fence, the deadman, any helper). */
export function nonPostgresTree(agentPid: number): number[] {
  return descendants(agentPid).filter((p) => !isPostgres(p));
}

/** Signal every PID of the list as close to the same instant as one process can. */
export function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try { process.kill(p, sig); } catch { /* gone */ }
  }
}
