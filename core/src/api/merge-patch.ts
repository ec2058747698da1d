/**
 * Patroni's patch_config: a JSON merge-patch where `null` deletes a key, objects merge recursively,
 * and scalars replace only when their Python str() differs (so `10` over `"10"` is no change).
 */
import { hasOwn, isPlainObject, setOwn } from '../util/json.js';

function pyStr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

/**
 * Apply `patch` to `config` in place; true when anything changed. Keys are own properties only
 * (`{"__proto__": …}` patches a key of that name, never Object.prototype); both documents come
 * through the bounded JSON parser, so the recursion depth is bounded too.
 */
export function patchConfig(config: Record<string, unknown>, patch: Record<string, unknown>): boolean {
  let changed = false;
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      if (hasOwn(config, name)) {
        if (config[name] !== null) changed = true;
        delete config[name];
      }
    } else if (hasOwn(config, name)) {
      const cur = config[name];
      if (isPlainObject(value)) {
        if (isPlainObject(cur)) {
          if (patchConfig(cur, value)) changed = true;
        } else {
          setOwn(config, name, value);
          changed = true;
        }
      } else if (pyStr(cur) !== pyStr(value)) {
        setOwn(config, name, value);
        changed = true;
      }
    } else {
      setOwn(config, name, value);
      changed = true;
    }
  }
  return changed;
}
