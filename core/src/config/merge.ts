/** Patroni's patch_config: deep-merge mappings; a `null` value removes the key. */
import { hasOwn, isPlainObject, setOwn } from '../util/json.js';

export type ConfigObject = Record<string, unknown>;

export function deepClone<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}

/** Merge `patch` into a copy of `base`: nested mappings merge, other values replace, null deletes. */
export function patchConfig(base: ConfigObject, patch: ConfigObject): ConfigObject {
  const out: ConfigObject = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(patch)) {
    const cur = hasOwn(out, key) ? out[key] : undefined;
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(cur)) setOwn(out, key, patchConfig(cur, value));
    else setOwn(out, key, deepClone(value));
  }
  return out;
}
