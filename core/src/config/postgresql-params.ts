/**
 * The "CMDLINE" GUCs Patroni passes as `--name=value` and takes only from the dynamic configuration
 * (they must match across members). Invalid dynamic values fall back to the default with a warning;
 * local values are dropped. Parameter names are case-insensitive, as in PostgreSQL.
 */
import { parseBool } from '../util/json.js';

type Scalar = string | number | boolean | null;

interface CmdlineOption {
  readonly default: Scalar;
  /** Returns the value to use, or undefined when invalid. */
  readonly accept: (v: unknown) => Scalar | undefined;
}

const never = (): undefined => undefined;
const boolean = (v: unknown) => (parseBool(v) !== undefined ? (v as Scalar) : undefined);
const trueOnly = (v: unknown) => (parseBool(v) === true ? (v as Scalar) : undefined);
const oneOf = (...allowed: string[]) => (v: unknown) => (typeof v === 'string' && allowed.includes(v.toLowerCase()) ? v : undefined);

const UNIT_TO_MB: Record<string, number> = { kb: 1 / 1024, mb: 1, gb: 1024, tb: 1024 * 1024 };

/** IntValidator: an integer ≥ min (with an optional memory unit when baseUnit is MB); stored as a number. */
function integer(min: number, baseUnitMb = false) {
  return (v: unknown): number | undefined => {
    let n: number | undefined;
    if (typeof v === 'number' && Number.isInteger(v)) n = v;
    else if (typeof v === 'string') {
      const m = /^\s*(-?\d+)\s*([a-zA-Z]*)\s*$/.exec(v);
      if (m && !m[2]) n = Number(m[1]);
      else if (m && baseUnitMb && UNIT_TO_MB[m[2]!.toLowerCase()] !== undefined) n = Math.floor(Number(m[1]) * UNIT_TO_MB[m[2]!.toLowerCase()]!);
    }
    return n !== undefined && n >= min ? n : undefined;
  };
}

export const CMDLINE_OPTIONS: Readonly<Record<string, CmdlineOption>> = {
  listen_addresses: { default: null, accept: never },
  port: { default: null, accept: never },
  cluster_name: { default: null, accept: never },
  wal_level: { default: 'hot_standby', accept: oneOf('hot_standby', 'replica', 'logical') },
  hot_standby: { default: 'on', accept: trueOnly },
  max_connections: { default: 100, accept: integer(25) },
  max_wal_senders: { default: 10, accept: integer(3) },
  wal_keep_segments: { default: 8, accept: integer(1) },
  wal_keep_size: { default: '128MB', accept: integer(16, true) },
  max_prepared_transactions: { default: 0, accept: integer(0) },
  max_locks_per_transaction: { default: 64, accept: integer(32) },
  track_commit_timestamp: { default: 'off', accept: boolean },
  max_replication_slots: { default: 10, accept: integer(4) },
  max_worker_processes: { default: 8, accept: integer(2) },
  wal_log_hints: { default: 'on', accept: boolean },
};

export function isCmdlineOption(name: string): boolean {
  return Object.hasOwn(CMDLINE_OPTIONS, name.toLowerCase());
}

/** Defaults every effective configuration starts from (wal_keep_* are version dependent, so absent). */
export function defaultParameters(): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const [name, o] of Object.entries(CMDLINE_OPTIONS)) {
    if (o.default !== null && name !== 'wal_keep_segments' && name !== 'wal_keep_size') out[name] = o.default;
  }
  return out;
}

/** Set a parameter, replacing any spelling of the same name that differs only in case. */
export function setParameter(params: Record<string, unknown>, name: string, value: unknown): void {
  const lower = name.toLowerCase();
  for (const k of Object.keys(params)) if (k.toLowerCase() === lower) delete params[k];
  params[isCmdlineOption(name) ? lower : name] = value;
}

/** Patroni's _process_postgresql_parameters. */
export function processParameters(parameters: unknown, isLocal: boolean, warnings: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof parameters !== 'object' || parameters === null) return out;
  for (const [name, value] of Object.entries(parameters)) {
    const option = CMDLINE_OPTIONS[name.toLowerCase()];
    if (!option) setParameter(out, name, value);
    else if (!isLocal) {
      const accepted = option.accept(value);
      if (accepted !== undefined) setParameter(out, name, accepted);
      else warnings.push(`postgresql parameter ${name}=${String(value)} failed validation, defaulting to ${String(option.default)}`);
    }
  }
  return out;
}
