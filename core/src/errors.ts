/**
 * One registry of error codes (in @pgha/plugin-api, shared with plugins). Codes are stable: logs,
 * tests and operators' scripts may match on them. A lost compare-and-swap is never an error: DCS
 * methods return `false` for it. DcsError means the store could not be reached or did not answer in
 * time (transient). PghaError/DcsError recognise errors from any copy of @pgha/plugin-api (brand + code).
 */
import { ErrorCodes, PghaError } from '@pgha/plugin-api';

export { DCS_ERROR_CODES, DcsError, ErrorCodes, PghaError, isDcsError, isPghaError, type ErrorCode } from '@pgha/plugin-api';

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
