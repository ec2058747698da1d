/**
 * An agent's process tree read from /proc: the agent and every descendant found by walking ppid
 * links. PostgreSQL processes (exe or argv[0] is postgres) are PostgreSQL's, not the agent's: they
 * are reported apart and never signalled here, and the walk does not descend below them (their
 * children, e.g. an archive_command shell, belong to PostgreSQL too). Everything else in the tree
 * (the fence, pg_ctl, pg_controldata, a replica-creation script) is an agent helper.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly name: string;
  readonly state: string;
  /** CPU time used so far in ms (cpuMs). */
  readonly cpuMs: number;
  readonly postgres: boolean;
}

/** Clock ticks per second for /proc/PID/stat (sysconf(_SC_CLK_TCK); 100 on every Linux we run). */
const CLK_TCK = 100;

function readStat(pid: number): { ppid: number; state: string; comm: string; cpuTicks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces or ')': split after the last ')'.
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // f[0] = state (field 3), f[1] = ppid (4), f[11] = utime (14), f[12] = stime (15).
    return { state: f[0]!, ppid: Number(f[1]), comm, cpuTicks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

function cmdline(pid: number): string[] {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return []; }
}

/** Is `pid` a PostgreSQL server process (postmaster or any backend / auxiliary process)? */
export function isPostgres(pid: number): boolean {
  try {
    if (basename(readlinkSync(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '') === 'postgres') return true;
  } catch { /* gone, or not readable: fall back to the command line */ }
  const argv0 = cmdline(pid)[0] ?? '';
  return basename(argv0) === 'postgres' || argv0.startsWith('postgres:');
}

function describe(pid: number): ProcInfo | null {
  const st = readStat(pid);
  if (!st) return null;
  const pgProc = isPostgres(pid);
  const argv = cmdline(pid);
  // node's argv[1] is the script: name helpers by it (fence-process.js) rather than "node".
  const script = argv.find((a, i) => i > 0 && /\.(js|ts|mjs)$/.test(a));
  const name = pgProc ? 'postgres' : script ? basename(script) : basename(argv[0] ?? st.comm);
  return { pid, ppid: st.ppid, name, state: st.state, cpuMs: cpuMs(pid) ?? 0, postgres: pgProc };
}

/** Every live process's ppid, read once. */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(d));
    children.set(st.ppid, list);
  }
  return children;
}

export interface AgentTree {
  readonly agent: ProcInfo | null;
  /** Non-postgres descendants of the agent. */
  readonly helpers: ProcInfo[];
  /** PostgreSQL processes met in the tree (not descended into). */
  readonly postgres: ProcInfo[];
}

/**
 * The agent `pid` and its descendants, split into helpers and PostgreSQL. `detached` are helpers the
 * agent started outside its own tree (the fence and the deadman, re-parented to init), counted too.
 */
export function agentTree(pid: number, detached: readonly number[] = []): AgentTree {
  const agent = describe(pid);
  const helpers: ProcInfo[] = [];
  const postgres: ProcInfo[] = [];
  if (!agent) return { agent: null, helpers, postgres };
  const children = parentMap();
  const queue = [...(children.get(pid) ?? []), ...detached];
  while (queue.length) {
    const p = describe(queue.shift()!);
    if (!p) continue;
    if (p.postgres) { postgres.push(p); continue; }
    helpers.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return { agent, helpers, postgres };
}

/** The agent and all its non-postgres descendants, as PIDs. */
export function agentAndHelpers(pid: number): number[] {
  const t = agentTree(pid);
  return t.agent ? [t.agent.pid, ...t.helpers.map((h) => h.pid)] : [];
}

/** Send `sig` to every PID back to back (the same instant for the processes); returns those signalled. */
export function signalAll(pids: readonly number[], sig: NodeJS.Signals): number[] {
  const done: number[] = [];
  for (const p of pids) {
    try { process.kill(p, sig); done.push(p); } catch { /* already gone */ }
  }
  return done;
}

/**
 * Proportional set size in MB (smaps_rollup): RSS with shared pages divided among the processes
 * sharing them. Node's and Python's interpreter text is shared by every such process on the host,
 * so PSS is the fairer per-agent figure; RSS is what the issue compared. Null when gone.
 */
export function pssMb(pid: number): number | null {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resident set size in MB (VmRSS), or null when the process is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU time `pid` has used, in ms: the sum over its threads of /proc/PID/task/TID/schedstat's time on
 * a CPU (nanoseconds). utime + stime count in 10 ms ticks, a sixth of an idle agent's 30 s at
 * 0.2 %, too coarse to compare. Threads that exited are missing from the sum, which is why a window
 * is measured between two reads of long-lived processes. Falls back to ticks without schedstat.
 */
export function cpuMs(pid: number): number | null {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* exited */ }
    }
    return ns / 1e6;
  } catch {
    const st = readStat(pid);
    return st ? (st.cpuTicks * 1000) / CLK_TCK : null;
  }
}

export function isStopped(pid: number): boolean {
  return readStat(pid)?.state === 'T';
}
