/**
 * One registry of error codes. Codes are stable: logs, tests and operators' scripts may match on them.
 * A lost compare-and-swap is never an error: DCS methods return `false` for it. DcsError means the
 * store could not be reached or did not answer in time (transient).
 */
export const ErrorCodes = {
  DCS_UNAVAILABLE: 'PGHA_DCS_UNAVAILABLE',
  DCS_TIMEOUT: 'PGHA_DCS_TIMEOUT',
  DCS_AUTH: 'PGHA_DCS_AUTH',
  CONFIG_INVALID: 'PGHA_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'PGHA_CONFIG_NOT_FOUND',
  PLUGIN_NOT_INSTALLED: 'PGHA_PLUGIN_NOT_INSTALLED',
  PLUGIN_INVALID: 'PGHA_PLUGIN_INVALID',
  PLUGIN_CONFIG_INVALID: 'PGHA_PLUGIN_CONFIG_INVALID',
  NO_DCS: 'PGHA_NO_DCS',
  POSTGRES: 'PGHA_POSTGRES',
  BOOTSTRAP_FAILED: 'PGHA_BOOTSTRAP_FAILED',
  FATAL: 'PGHA_FATAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class PghaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The DCS is unreachable, timed out or refused us: transient; retry within retry_timeout. */
export class DcsError extends PghaError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? ErrorCodes.DCS_UNAVAILABLE, message, options);
  }
}

/** Configuration is malformed. `path` names the offending key, e.g. `postgresql.parameters.port`. */
export class ConfigError extends PghaError {
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(issues: ReadonlyArray<{ path: string; message: string }>) {
    super(ErrorCodes.CONFIG_INVALID, issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.issues = issues;
  }
}

/** Unrecoverable: the agent must exit (e.g. data directory belongs to another cluster). */
export class FatalError extends PghaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.FATAL, message, options);
  }
}

export function isDcsError(e: unknown): e is DcsError {
  return e instanceof DcsError;
}
