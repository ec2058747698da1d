/**
 * Errors that cross the plugin boundary. A plugin may bundle its own copy of this package, so
 * nothing here relies on object identity: every PghaError carries a brand (a global symbol) and a
 * stable `code`, and `instanceof PghaError` / `instanceof DcsError` / `isDcsError` check those, so
 * an error thrown by a plugin's copy is recognised by the core's copy and the other way round.
 *
 * A lost compare-and-swap is never an error: DCS methods return `false` for it. DcsError means the
 * store could not be reached, timed out, or refused us (transient: the core retries within retry_timeout).
 */
export const ErrorCodes = {
  DCS_UNAVAILABLE: 'PGHA_DCS_UNAVAILABLE',
  DCS_TIMEOUT: 'PGHA_DCS_TIMEOUT',
  DCS_AUTH: 'PGHA_DCS_AUTH',
  CONFIG_INVALID: 'PGHA_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'PGHA_CONFIG_NOT_FOUND',
  PLUGIN_NOT_INSTALLED: 'PGHA_PLUGIN_NOT_INSTALLED',
  PLUGIN_INVALID: 'PGHA_PLUGIN_INVALID',
  PLUGIN_INCOMPATIBLE: 'PGHA_PLUGIN_INCOMPATIBLE',
  PLUGIN_CONFIG_INVALID: 'PGHA_PLUGIN_CONFIG_INVALID',
  NO_DCS: 'PGHA_NO_DCS',
  POSTGRES: 'PGHA_POSTGRES',
  BOOTSTRAP_FAILED: 'PGHA_BOOTSTRAP_FAILED',
  FATAL: 'PGHA_FATAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The codes that make an error a DcsError (transient store trouble). */
export const DCS_ERROR_CODES: ReadonlySet<string> = new Set([ErrorCodes.DCS_UNAVAILABLE, ErrorCodes.DCS_TIMEOUT, ErrorCodes.DCS_AUTH]);

/** Shared by every copy of this package (Symbol.for is process-global). */
export const PGHA_ERROR_BRAND: unique symbol = Symbol.for('pgha.error') as never;

/** Any pgha error from any copy of this package: branded, with a string code. */
export function isPghaError(e: unknown): e is PghaError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[PGHA_ERROR_BRAND] === true &&
    typeof (e as { code?: unknown }).code === 'string';
}

/** A DcsError from any copy of this package (brand plus a DCS code). */
export function isDcsError(e: unknown): e is DcsError {
  return isPghaError(e) && DCS_ERROR_CODES.has(e.code);
}

const ordinaryInstanceOf = Function.prototype[Symbol.hasInstance];

export class PghaError extends Error {
  readonly code: ErrorCode;
  declare readonly [PGHA_ERROR_BRAND]: true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, PGHA_ERROR_BRAND, { value: true, enumerable: false });
  }

  /**
   * `e instanceof PghaError` / `instanceof DcsError` hold for errors from another copy of this
   * package too (by brand and code). Subclasses declared elsewhere (ConfigError in the core) keep
   * the ordinary prototype check.
   */
  static override [Symbol.hasInstance](v: unknown): boolean {
    if (ordinaryInstanceOf.call(this, v)) return true;
    if (this === PghaError) return isPghaError(v);
    if (this === DcsError) return isDcsError(v);
    return false;
  }
}

/** The DCS is unreachable, timed out or refused us: transient; the core retries within retry_timeout. */
export class DcsError extends PghaError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? ErrorCodes.DCS_UNAVAILABLE, message, options);
  }
}
