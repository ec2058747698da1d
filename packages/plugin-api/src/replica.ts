/**
 * The replica-method contract: a method creates PGDATA from a source member (or from nothing, for
 * `no_leader` methods such as a restore from an archive) and reports success by exit code 0.
 * The core wipes PGDATA before a method unless it says `keepData`, writes the source's replication
 * password to a pgpass file and hands the method a connection string without it. A method must:
 *  - leave a data directory PostgreSQL can start from (the core adds the recovery settings);
 *  - report failure by resolving a non-zero code (throwing counts as a failure too, with its message);
 *  - stop every child process and resolve promptly when `signal` aborts.
 */
import type { Logger } from './services.js';

/** A member to clone from. */
export interface ReplicaSource {
  readonly name: string;
  readonly connUrl: string | null;
  /** libpq keywords (host, port, ...) to reach it; `auth` adds user/password. */
  connKwargs(auth?: Record<string, unknown> | null): Record<string, unknown>;
}

export interface ReplicaMethodContext {
  readonly scope: string;
  /** This member's name. */
  readonly name: string;
  readonly dataDir: string;
  /** Directory of PostgreSQL server binaries (postgresql.bin_dir). */
  readonly binDir: string;
  /** Full path of a PostgreSQL tool, honouring postgresql.bin_name (e.g. bin('pg_basebackup')). */
  bin(tool: string): string;
  /** OS user every child process must run as (null: the agent's own user). */
  readonly runAs: { readonly uid: number; readonly gid: number } | null;
  /** Empty PGDATA, keeping the directory with the right owner and mode (for retries inside a method). */
  wipeDataDir(): void;
  readonly logger: Logger;
}

/** What a method may report while it runs (all optional; the core tracks elapsed time itself). */
export interface ProgressUpdate {
  readonly percent?: number | null;
  readonly bytesDone?: number | null;
  readonly bytesTotal?: number | null;
}

export interface ProgressSinkLike {
  update(u: ProgressUpdate): void;
}

/** A connection to some member: a libpq string without the password, and the env (PGPASSFILE) holding it. */
export interface SourceConnection {
  readonly connstring: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface ReplicaCreateRequest {
  /** null when no member can serve as a source (only no_leader methods run then). */
  readonly source: ReplicaSource | null;
  /** libpq connection string to the source without the password (it is in PGPASSFILE); '' without a source. */
  readonly connstring: string | null;
  /** Environment for child processes: PGPASSFILE and friends. */
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly progress?: ProgressSinkLike;
  /**
   * API 1.1: connection details (replication user, pgpass) for cloning from another member than
   * `source`, e.g. one found with the `members` service.
   */
  readonly connect?: (member: ReplicaSource) => SourceConnection;
}

export interface ReplicaMethod {
  readonly name: string;
  /** Can run without a source member (`no_leader`, legacy `no_master`). */
  readonly noLeader: boolean;
  /** Do not wipe PGDATA before this method runs (`keep_data`). */
  readonly keepData: boolean;
  /** Create the replica's data directory; resolves with the exit code (0 = success). */
  create(req: ReplicaCreateRequest): Promise<number>;
}
