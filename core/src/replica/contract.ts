/**
 * Replica-creation contract: a method creates PGDATA from a source member (or from nothing, for
 * `no_leader` methods such as a restore from an archive) and reports success by exit code 0.
 * The chain (create.ts) wipes PGDATA before a method unless it says `keepData`, writes the source's
 * replication password to a pgpass file and hands the method a connection string without it.
 */
import type { Logger } from '../log.js';
import type { ProgressTracker } from './progress.js';

/** The member a replica is cloned from (Member, Leader or RemoteMember all fit). */
export interface ReplicaSource {
  readonly name: string;
  readonly connUrl: string | null;
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

export interface ReplicaCreateRequest {
  /** null when no member can serve as a source (only no_leader methods run then). */
  readonly source: ReplicaSource | null;
  /** libpq connection string to the source without the password (it is in PGPASSFILE); '' without a source. */
  readonly connstring: string | null;
  /** Environment for child processes: PGPASSFILE and friends. */
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** This attempt's progress (elapsed time is tracked by the chain; methods add percent/bytes when the tool reports them). */
  readonly progress?: ProgressTracker;
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
