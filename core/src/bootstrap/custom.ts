/**
 * Custom bootstrap (`bootstrap.method: <name>` with `<name>.command`): the argv pgha runs and the
 * recovery handling afterwards. See docs/bootstrap.md for the two deliberate decisions here.
 */
import { shlexSplit } from '../postgres/exec.js';
import { isPlainObject, parseBool, truthy } from '../util/json.js';

/** YAML booleans, and strings like "off" or "false" as Patroni reads them. */
export const flag = (v: unknown): boolean => (typeof v === 'string' ? parseBool(v) ?? truthy(v) : truthy(v));

/** Keys of a method section that are pgha's, not arguments for the command. */
export const CUSTOM_BOOTSTRAP_RESERVED = new Set([
  'command', 'no_params', 'keep_existing_recovery_conf', 'recovery_conf', 'data_dir_arg', 'scope', 'datadir', 'data_dir',
]);

export interface CustomBootstrapConfig {
  readonly name: string;
  readonly command: string;
  /** `no_params: true` suppresses --scope/--datadir (the key's name and Patroni's behaviour, not the seed's `False`). */
  readonly noParams: boolean;
  /** Name of the data directory argument: `datadir` (Patroni's code, the default), or `data_dir` (the seed's spelling). */
  readonly dataDirArg: 'data_dir' | 'datadir';
  readonly keepExistingRecoveryConf: boolean;
  readonly recoveryConf: Readonly<Record<string, unknown>> | null;
  /** Every other key, passed as --key=value. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export function parseCustomBootstrap(name: string, section: Readonly<Record<string, unknown>>): CustomBootstrapConfig {
  if (typeof section.command !== 'string' || !section.command.trim()) throw new Error(`bootstrap.${name}.command is required`);
  const dataDirArg = section.data_dir_arg ?? 'datadir';
  if (dataDirArg !== 'data_dir' && dataDirArg !== 'datadir') throw new Error(`bootstrap.${name}.data_dir_arg must be datadir or data_dir`);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section)) if (!CUSTOM_BOOTSTRAP_RESERVED.has(k)) extra[k] = v;
  return {
    name,
    command: section.command,
    noParams: flag(section.no_params),
    dataDirArg,
    keepExistingRecoveryConf: flag(section.keep_existing_recovery_conf),
    recoveryConf: isPlainObject(section.recovery_conf) ? section.recovery_conf : null,
    extra,
  };
}

function argValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False'; // as Patroni (Python str()) formats them
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** argv: the command split like a shell would, then --scope/--datadir unless no_params, then extra keys. */
export function customBootstrapArgv(c: CustomBootstrapConfig, scope: string, dataDir: string): string[] {
  const argv = shlexSplit(c.command);
  if (!c.noParams) argv.push(`--scope=${scope}`, `--${c.dataDirArg}=${dataDir}`);
  for (const [k, v] of Object.entries(c.extra)) argv.push(`--${k}=${argValue(v)}`);
  return argv;
}
