/**
 * edit-config's pure parts: `-s key.path=yaml` / `-p guc=value` changes, `--apply` merges and the
 * unified diff shown before writing (difflib.unified_diff's layout, so `+ttl: 20` lines match).
 */
import { structuredPatch } from 'diff';
import { isPlainObject, parseYaml, patchDynamicConfig } from '@pgha/core';
import { CtlError } from './errors.js';
import { formatYaml } from './output.js';

type Obj = Record<string, unknown>;

/**
 * Set (or with null/undefined delete) the value at a dotted path. Under `postgresql.parameters` the
 * rest of the path is one GUC name, since GUCs may contain dots (`pg_stat_statements.max`).
 * Emptied parent mappings are removed.
 */
export function setPathValue(config: Obj, path: string[], value: unknown, prefix: string[] = []): void {
  let p = path;
  if (prefix.length === 2 && prefix[0] === 'postgresql' && prefix[1] === 'parameters') p = [path.join('.')];
  const key = p[0]!;
  if (p.length === 1) {
    if (value === null || value === undefined) delete config[key];
    else config[key] = value;
    return;
  }
  if (!isPlainObject(config[key])) config[key] = {};
  const child = config[key] as Obj;
  setPathValue(child, p.slice(1), value, [...prefix, key]);
  if (Object.keys(child).length === 0) delete config[key];
}

/** Apply `key=value` pairs (values parsed as YAML) to a copy of `data`. */
export function applyConfigChanges(data: Obj, pairs: readonly string[]): Obj {
  const changed = structuredClone(data);
  for (const pair of pairs) {
    const eq = pair ? pair.indexOf('=') : -1;
    if (eq < 0) throw new CtlError(`Invalid parameter setting ${pair}`);
    const value = parseYaml(pair.slice(eq + 1), `--set ${pair}`);
    setPathValue(changed, pair.slice(0, eq).trim().split('.'), value);
  }
  return changed;
}

/** `-p guc=value` is shorthand for `-s postgresql.parameters.guc=value`. */
export function pgPairs(pairs: readonly string[]): string[] {
  return pairs.map((p) => `postgresql.parameters.${p.trimStart()}`);
}

/** Parse YAML text that must hold a mapping (an empty document is an empty mapping). */
export function parseConfigYaml(text: string, source: string): Obj {
  const v = parseYaml(text, source);
  if (v === null || v === undefined) return {};
  if (!isPlainObject(v)) throw new CtlError(`${source}: the configuration must be a YAML mapping`);
  return v;
}

/** `--apply`: Patroni's patch_config merge (null deletes) of the file's mapping onto a copy. */
export function applyYaml(data: Obj, patch: Obj): Obj {
  const changed = structuredClone(data);
  patchDynamicConfig(changed, patch);
  return changed;
}

export const formatConfigForEditing = (data: unknown): string => formatYaml(data);

function range(start: number, length: number): string {
  return length === 1 ? String(start) : `${start},${length}`;
}

/** difflib.unified_diff(before, after) with empty file names, as patronictl prints it off a TTY. */
export function unifiedDiff(before: string, after: string): string {
  const norm = (s: string) => `${s.replace(/\n+$/, '')}\n`;
  const patch = structuredPatch('', '', norm(before), norm(after), '', '', { context: 3 });
  if (!patch.hunks.length) return '';
  const out = ['--- ', '+++ '];
  for (const h of patch.hunks) {
    out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`);
    out.push(...h.lines.filter((l) => !l.startsWith('\\')));
  }
  return out.join('\n');
}
