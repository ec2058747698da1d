/** Shared shapes of the REST API layer: its configuration, per-request context and replies. */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../log.js';
import type { Clock } from '../util/clock.js';
import type { ApiBackend } from './backend.js';

/** The `restapi` section of the configuration (reference §6.1); unknown keys are ignored. */
export interface RestApiConfig {
  readonly listen?: string;
  readonly connect_address?: string;
  readonly authentication?: { readonly username?: string; readonly password?: string | number };
  readonly certfile?: string;
  readonly keyfile?: string;
  readonly keyfile_password?: string;
  readonly cafile?: string;
  readonly ciphers?: string;
  readonly verify_client?: string;
  readonly allowlist?: readonly string[];
  readonly allowlist_include_members?: boolean;
  readonly http_extra_headers?: Readonly<Record<string, unknown>>;
  readonly https_extra_headers?: Readonly<Record<string, unknown>>;
  readonly server_tokens?: string;
  readonly request_queue_size?: number;
}

/** Knobs for tests and embedding; the defaults are the production values. */
export interface ApiServerOptions {
  readonly clock?: Clock;
  /** Largest request body accepted (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Switchover/failover result polling: interval (default 500 ms) and limit (default max(10, loop_wait)*2 s). */
  readonly failoverPollIntervalMs?: number;
  readonly failoverPollTimeoutMs?: number;
  /** How long a health check waits for the local PostgreSQL status before answering "unknown" (default 5 s). */
  readonly statusTimeoutMs?: number;
}

export interface ResolvedOptions {
  readonly clock: Clock;
  readonly maxBodyBytes: number;
  readonly failoverPollIntervalMs: number;
  readonly failoverPollTimeoutMs: number | null;
  readonly statusTimeoutMs: number;
}

/** Everything a handler needs: the agent, config, logger, options, and the request itself. */
export interface ApiContext {
  readonly backend: ApiBackend;
  readonly config: RestApiConfig;
  readonly logger: Logger;
  readonly options: ResolvedOptions;
  readonly req: IncomingMessage;
  /** Path without the query string, e.g. `/replica`. */
  readonly path: string;
  /** First non-blank value of each query parameter (as Python's parse_qs()[k][0]). */
  readonly query: ReadonlyMap<string, string>;
}

/** What a handler answers; the server writes it (adding the configured extra headers). */
export interface Reply {
  readonly status: number;
  /** Plain text body (Patroni sends these as text/html). */
  readonly text?: string;
  /** JSON body. */
  readonly json?: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (ctx: ApiContext) => Promise<Reply> | Reply;
