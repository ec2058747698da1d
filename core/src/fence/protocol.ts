/**
 * The agent <-> fence protocol (carried as lines over FIFOs, see fence-script.ts). Every request
 * gets one reply with the fence's state.
 */
export type FenceRequest =
  /**
   * Arm (or keep armed) and set the deadline: fire when not fed again within `deadlineMs` (unless
   * `<base>.deadline` then holds a later one, see fence-script.ts).
   */
  | { readonly cmd: 'feed'; readonly deadlineMs: number }
  /** Stop guarding (PostgreSQL is a replica or stopped); thaws a frozen PostgreSQL. */
  | { readonly cmd: 'disarm' }
  /** Kill PostgreSQL now (a restarted agent found it lost the lock). */
  | { readonly cmd: 'fire' }
  | { readonly cmd: 'status' }
  /**
   * Start PostgreSQL as the fence's own child with the parent-death signal set (SIGKILL), so that
   * killing the fence, alone or with the agent's whole process tree, kills the postmaster too.
   */
  | { readonly cmd: 'spawn'; readonly spawn: SpawnRequest };

export interface SpawnRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Server output goes here (appended). */
  readonly logFile: string;
  /** Run as this user (the fence runs as root). */
  readonly uid?: number;
  readonly gid?: number;
}

export interface FenceState {
  readonly armed: boolean;
  /** PostgreSQL is stopped with SIGSTOP because the armed agent's connection went away. */
  readonly frozen: boolean;
  /** Times the fence killed PostgreSQL since it started. */
  readonly fired: number;
  /** ms until it fires, when armed. */
  readonly deadlineLeftMs: number | null;
  /**
   * When it fires (uptime in ms, as /proc/uptime counts), when armed: the fence's own deadline, or
   * the later one the agent wrote to `<base>.deadline` since (`FenceClient.existing` reports that).
   */
  readonly deadlineAt: number | null;
  readonly pid: number;
  /** The postmaster the fence started and still parents, if any. */
  readonly child: number | null;
  /** The deadman's PID (outside this process tree), once one runs. */
  readonly deadman: number | null;
}

export type FenceReply = { readonly ok: true; readonly state: FenceState } | { readonly ok: false; readonly error: string };
