/** Types of the controller's public API (kept apart so the HA layer can import them cheaply). */
import type { Logger } from '../log.js';
import type { ReplicaSource } from '../replica/contract.js';
import type { RecoveryMode } from './config-files.js';
import type { PostmasterExit, ShutdownMode, SpawnPostmasterOptions, WatchedPostmaster } from './postmaster.js';
import type { PostgresSettings } from './settings.js';

/** Patroni's state strings (published in the member key and the REST API). */
export type PostgresState =
  | 'stopped' | 'stopping' | 'stop failed' | 'crashed' | 'running' | 'starting' | 'start failed'
  | 'restarting' | 'restart failed' | 'initializing new cluster' | 'initdb failed'
  | 'running custom bootstrap script' | 'custom bootstrap failed' | 'creating replica';

export type DemoteMode = 'offline' | 'graceful' | 'immediate' | 'immediate-nolock';

/** Called once pg_control says "shut down" while a graceful stop is in progress. */
export type OnShutdown = (checkpointLsn: bigint, redoLsn: bigint) => void | Promise<void>;

export interface StopOptions {
  readonly mode?: ShutdownMode;
  /** CHECKPOINT before signalling, so the shutdown checkpoint is short (graceful demote). */
  readonly checkpoint?: boolean;
  readonly timeoutMs?: number;
  /** Escalate to immediate when the timeout passes (default true). */
  readonly escalate?: boolean;
  readonly onShutdown?: OnShutdown;
  /**
   * Patroni's primary_stop_timeout: a stop still running after this long is aborted (immediate mode),
   * and one still running as long again gets SIGKILL for the postmaster and its children.
   */
  readonly abortAfterMs?: number;
}

export interface StartOptions {
  /** Recovery mode for this and later starts (default: the last one used; initially primary). */
  readonly recovery?: RecoveryMode;
  readonly timeoutMs?: number;
  /** Cancellation (a long action's): stop waiting for readiness; the postmaster is left to the next cycle. */
  readonly signal?: AbortSignal;
  /** Leave pg_hba.conf/pg_ident.conf as they are (a custom bootstrap's restored files). */
  readonly skipHba?: boolean;
}

export interface PostmasterExitEvent extends PostmasterExit {
  /** We asked it to stop; false means it crashed or was killed. */
  readonly expected: boolean;
}

export interface PostgresControllerOptions {
  /** The raw `postgresql` section or already parsed settings. */
  readonly postgresql: Readonly<Record<string, unknown>> | PostgresSettings;
  readonly scope: string;
  /** This member's name (application_name, slot name). */
  readonly name: string;
  /** OS user for postgres and every PostgreSQL tool (required when the agent runs as root). */
  readonly uid?: number;
  readonly gid?: number;
  readonly logger?: Logger;
  /**
   * Starts the postmaster. The agent passes the fence's launcher (PostgreSQL becomes the fence's
   * child with a parent-death signal); without one the controller spawns it itself.
   */
  readonly launch?: PostmasterLauncher;
}

export type PostmasterLauncher = (o: SpawnPostmasterOptions) => Promise<WatchedPostmaster>;

