/** Configuration: loading Patroni YAML, the environment overlay, validation, effective config, logging. */
import { ConfigError } from '../errors.js';
import { envOverlay, type Env } from './env.js';
import { configBaseDir, loadConfigPath, loadConfigText } from './load.js';
import { lintConfig } from './lint.js';
import { unimplementedKeys, unimplementedWarning } from './unimplemented.js';
import { patchConfig, type ConfigObject } from './merge.js';
import { validateConfig, type ConfigMode, type PghaConfig } from './schema/index.js';

export * from './schema/index.js';
export { dynamicConfigSchema, type DynamicConfig } from './schema/dynamic.js';
export { DCS_SECTION_SCHEMAS, type DcsSectionName } from './schema/dcs.js';
export { parseWatchdogMode, type WatchdogMode } from './schema/sections.js';
export { configErrorMap } from './schema/issues.js';
export { envOverlay, parseEnvList, parseEnvDict, type Env, type EnvOverlay } from './env.js';
export { parseYaml, loadConfigPath, loadConfigText, configFiles, configBaseDir } from './load.js';
export { patchConfig, type ConfigObject } from './merge.js';
export { adjustTimings, TIMING_DEFAULTS, type Timings } from './timings.js';
export {
  effectiveConfig, CLUSTER_WIDE_KEYS, LOCAL_ONLY_POSTGRESQL_KEYS, type ClusterSettings, type EffectiveConfig,
} from './effective.js';
export { CMDLINE_OPTIONS, isCmdlineOption, defaultParameters } from './postgresql-params.js';
export { lintConfig } from './lint.js';
export { unimplementedKeys, unimplementedDynamicKeys, unimplementedWarning } from './unimplemented.js';
export { staticConfigIssues, hostPortProblem } from './checks.js';
export { planReload, type ReloadPlan } from './reload.js';
export { configSection, type ConfigSection, type ConfigSectionName } from './section.js';
export * from './logging.js';

export interface LoadConfigOptions {
  /** A YAML file or a directory of them; when absent, PGHA_/PATRONI_CONFIGURATION, else the environment alone. */
  readonly path?: string | null;
  /** The environment to read PATRONI_ and PGHA_ variables from (the agent passes process.env). */
  readonly env?: Env;
  readonly mode?: ConfigMode;
  /** Extra DCS section names (from plugins) for the `PATRONI_<DCS>_<SUFFIX>` rule and lint. */
  readonly dcsNames?: readonly string[];
}

export interface LoadedConfig {
  /** The validated local configuration (YAML patched with the environment). */
  readonly config: PghaConfig;
  /** The same before validation coerced anything. */
  readonly raw: ConfigObject;
  /** Where the YAML came from: a path, `PATRONI_CONFIGURATION`, or `environment`. */
  readonly source: string;
  /** Base directory for relative `plugins:` paths. */
  readonly baseDir: string;
  readonly warnings: readonly string[];
  /** Environment variables used; the agent deletes them from process.env as Patroni does. */
  readonly consumedEnv: readonly string[];
}

/** Read the local configuration without validating it. */
export function readConfig(opts: LoadConfigOptions = {}): Omit<LoadedConfig, 'config'> {
  const env = opts.env ?? {};
  let yamlConfig: ConfigObject = {};
  let source = 'environment';
  let baseDir = process.cwd();
  const consumed: string[] = [];
  const inline = env.PGHA_CONFIGURATION ?? env.PATRONI_CONFIGURATION;
  if (opts.path) {
    yamlConfig = loadConfigPath(opts.path);
    source = opts.path;
    baseDir = configBaseDir(opts.path);
  } else if (inline) {
    source = env.PGHA_CONFIGURATION !== undefined ? 'PGHA_CONFIGURATION' : 'PATRONI_CONFIGURATION';
    yamlConfig = loadConfigText(inline, source);
    consumed.push(...['PGHA_CONFIGURATION', 'PATRONI_CONFIGURATION'].filter((k) => env[k] !== undefined));
  }
  const overlay = envOverlay(env, { dcsNames: opts.dcsNames });
  const raw = patchConfig(yamlConfig, overlay.config);
  return {
    raw, source, baseDir,
    warnings: [...overlay.warnings, ...lintConfig(raw, { dcsNames: opts.dcsNames }),
      ...[unimplementedWarning(unimplementedKeys(raw, { dcsNames: opts.dcsNames }), source)].filter((w): w is string => w !== null)],
    consumedEnv: [...consumed, ...overlay.consumed],
  };
}

/** Read and validate the local configuration; throws ConfigError listing every issue by key path. */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const read = readConfig(opts);
  const r = validateConfig(read.raw, opts.mode ?? 'agent');
  if (!r.ok) throw new ConfigError(r.issues);
  return { ...read, config: r.config };
}
