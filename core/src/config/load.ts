/**
 * Reading Patroni YAML: one file, a directory of `*.yml`/`*.yaml` merged alphabetically, or the whole
 * document in `PATRONI_CONFIGURATION`. YAML 1.1 rules are used because Patroni parses with PyYAML:
 * `on`/`off`/`yes`/`no` are booleans there, and configs written for Patroni rely on it.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseDocument, type ScalarTag, type Tags } from 'yaml';
import { ConfigError, ErrorCodes, PghaError } from '../errors.js';
import { JSON_LIMITS, isPlainObject, valueDepthExceeds } from '../util/json.js';
import { patchConfig, type ConfigObject } from './merge.js';

const BOOL_TAG = 'tag:yaml.org,2002:bool';
/** PyYAML's booleans: YAML 1.1's minus `y`/`n` (PyYAML reads `name: n` as the string "n"). */
const pyYamlBooleans: ScalarTag[] = [
  { identify: (v) => typeof v === 'boolean', default: true, tag: BOOL_TAG, test: /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/, resolve: () => true },
  { identify: (v) => typeof v === 'boolean', default: true, tag: BOOL_TAG, test: /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/, resolve: () => false },
];
const YAML_OPTIONS = {
  version: '1.1' as const,
  uniqueKeys: false,
  customTags: (tags: Tags) => [...pyYamlBooleans, ...tags.filter((t) => typeof t === 'string' ? t !== 'bool' : t.tag !== BOOL_TAG)],
};

/** Parse one YAML document; syntax errors name the source and line. */
export function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => {
      const line = e.linePos?.[0];
      const where = line ? `${source}:${line.line}:${line.col}` : source;
      return { path: where, message: `YAML syntax error: ${e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0]}` };
    }));
  }
  return doc.toJS({ maxAliasCount: 1000 });
}

/** Configuration files are outside input too: bounded like DCS values (size, then nesting depth). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function parseMapping(text: string, source: string): ConfigObject {
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([{ path: source, message: `larger than ${MAX_CONFIG_BYTES} bytes` }]);
  let value: unknown;
  try {
    value = parseYaml(text, source);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // yaml's own limits (alias bombs) and stack exhaustion on absurd nesting end up here
    throw new ConfigError([{ path: source, message: `cannot be read: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  if (valueDepthExceeds(value, JSON_LIMITS.maxDepth)) throw new ConfigError([{ path: source, message: `nested deeper than ${JSON_LIMITS.maxDepth} levels` }]);
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new ConfigError([{ path: source, message: 'does not contain a mapping' }]);
  return value;
}

/** The files a config path stands for: itself, or the directory's YAML files in alphabetical order. */
export function configFiles(path: string): string[] {
  if (!existsSync(path)) throw new PghaError(ErrorCodes.CONFIG_NOT_FOUND, `config path ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => (f.endsWith('.yml') || f.endsWith('.yaml')) && statSync(join(path, f)).isFile())
    .sort()
    .map((f) => join(path, f));
}

/** Load a file or directory of YAML files into one mapping (later files patch earlier ones). */
export function loadConfigPath(path: string): ConfigObject {
  let merged: ConfigObject = {};
  for (const file of configFiles(path)) merged = patchConfig(merged, parseMapping(readFileSync(file, 'utf8'), file));
  return merged;
}

/** Load YAML text from an environment variable's value. */
export function loadConfigText(text: string, source = 'PATRONI_CONFIGURATION'): ConfigObject {
  return parseMapping(text, source);
}

/** Directory relative `plugins:` paths are resolved against. */
export function configBaseDir(path: string): string {
  const abs = resolve(path);
  return existsSync(abs) && statSync(abs).isDirectory() ? abs : dirname(abs);
}
