/**
 * The agent <-> fence protocol: newline-delimited JSON over a Unix socket. Every request gets one
 * reply with the fence's state.
 */
export type FenceRequest =
  /** Arm (or keep armed) and set the deadline: fire when not fed again within `deadlineMs`. */
  | { readonly cmd: 'feed'; readonly deadlineMs: number }
  /** Stop guarding (PostgreSQL is a replica or stopped); thaws a frozen PostgreSQL. */
  | { readonly cmd: 'disarm' }
  /** Kill PostgreSQL now (a restarted agent found it lost the lock). */
  | { readonly cmd: 'fire' }
  | { readonly cmd: 'status' };

export interface FenceState {
  readonly armed: boolean;
  /** PostgreSQL is stopped with SIGSTOP because the armed agent's connection went away. */
  readonly frozen: boolean;
  /** Times the fence killed PostgreSQL since it started. */
  readonly fired: number;
  /** ms until it fires, when armed. */
  readonly deadlineLeftMs: number | null;
  readonly pid: number;
}

export type FenceReply = { readonly ok: true; readonly state: FenceState } | { readonly ok: false; readonly error: string };
