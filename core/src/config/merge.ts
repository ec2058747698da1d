/** Patroni's patch_config: deep-merge mappings; a `null` value removes the key. */
import { isPlainObject } from '../util/json.js';

export type ConfigObject = Record<string, unknown>;

export function deepClone<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}

/** Merge `patch` into a copy of `base`: nested mappings merge, other values replace, null deletes. */
export function patchConfig(base: ConfigObject, patch: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = patchConfig(out[key] as ConfigObject, value);
    else out[key] = deepClone(value);
  }
  return out;
}
