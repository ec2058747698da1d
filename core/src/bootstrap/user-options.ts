/**
 * Patroni's Bootstrap.process_user_options: user option specs (dict or list) -> long-form argv
 * flags for initdb / pg_basebackup. No shell is involved: a value with spaces stays one argv element.
 */
import { isPlainObject } from '../util/json.js';

export type UserOptions = Readonly<Record<string, unknown>> | readonly (string | Readonly<Record<string, unknown>>)[];

/** initdb options pgha sets itself or that would break the bootstrap. */
export const INITDB_NOT_ALLOWED = ['pgdata', 'nosync', 'pwfile', 'sync-only', 'version'] as const;

/** pg_basebackup options pgha sets itself (Patroni's list). */
export const BASEBACKUP_NOT_ALLOWED = [
  'pgdata', 'format', 'wal-method', 'xlog-method', 'gzip', 'version', 'compress', 'dbname', 'host', 'port', 'username', 'password',
] as const;

/** Strip one pair of matching surrounding quotes (the value is passed without a shell). */
export function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) return value.slice(1, -1);
  return value;
}

/**
 * Convert options to `--key=value` / `--flag` arguments. Problems (multi-key dicts, non-string values
 * in the list form, wrong shapes, not-allowed keys) go to `errorHandler`; the offending item is skipped.
 * Dict form: entries with an empty key or a falsy value are skipped, `true` gives a bare `--key`.
 */
export function processUserOptions(
  tool: string,
  options: unknown,
  notAllowed: readonly string[],
  errorHandler: (message: string) => void,
): string[] {
  const out: string[] = [];
  const allowed = (name: string): boolean => {
    if (!notAllowed.includes(name)) return true;
    errorHandler(`${name} option for ${tool} is not allowed`);
    return false;
  };
  if (isPlainObject(options)) {
    for (const [key, val] of Object.entries(options)) {
      if (!key || val === null || val === undefined || val === false || val === '' || val === 0) continue;
      if (!allowed(key)) continue;
      if (val === true) out.push(`--${key}`);
      else if (typeof val === 'string' || typeof val === 'number') out.push(`--${key}=${unquote(String(val))}`);
      else errorHandler(`Error when parsing ${tool} option ${key}: value should be a string or a number`);
    }
  } else if (Array.isArray(options)) {
    for (const opt of options as unknown[]) {
      if (typeof opt === 'string') {
        if (allowed(opt)) out.push(`--${opt}`);
      } else if (isPlainObject(opt)) {
        const keys = Object.keys(opt);
        const value = keys.length === 1 ? opt[keys[0]!] : undefined;
        if (keys.length === 1 && typeof value === 'string') {
          if (allowed(keys[0]!)) out.push(`--${keys[0]}=${unquote(value)}`);
        } else {
          errorHandler(`Error when parsing ${tool} key-value option ${JSON.stringify(opt)}: only one key-value is allowed and value should be a string`);
        }
      } else {
        errorHandler(`Error when parsing ${tool} option ${JSON.stringify(opt)}: value should be string value or a single key-value pair`);
      }
    }
  } else {
    errorHandler(`${tool} options must be list or dict`);
  }
  return out;
}
