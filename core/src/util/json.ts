/** JSON helpers matching Python's json.dumps(separators=(',', ':')) used by Patroni for DCS values. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Bounds for every JSON value pgha reads from outside (DCS keys, REST bodies, files). Deeper or
 * larger values are malformed: deep nesting would overflow the stack of every recursive consumer
 * (structuredClone, JSON.stringify, zod, merge-patch) and end the agent, so they never get that far.
 * Patroni's own values nest at most 5 levels (postgresql.parameters, slots), members ~3.
 */
export const JSON_LIMITS = { maxDepth: 64, maxBytes: 1024 * 1024 } as const;

export interface JsonLimits {
  readonly maxDepth?: number;
  readonly maxBytes?: number;
}

export type BoundedJson = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** Occurrences of `ch` in `text`, counting no further than `max`. */
function countUpTo(text: string, ch: string, max: number): number {
  let n = 0;
  for (let i = text.indexOf(ch); i !== -1 && n < max; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

/**
 * Nesting depth of JSON text, counting brackets outside strings; stops as soon as `limit` is passed.
 * O(n) and allocation-free, so a hostile 60 KB `{"a":{"a":...` is refused before JSON.parse builds it.
 */
export function jsonTextDepthExceeds(text: string, limit: number): boolean {
  // Nesting needs an opening bracket per level: text with no more than `limit` of them, as every
  // value pgha itself writes, is within bounds without the character-by-character walk.
  if (countUpTo(text, '{', limit + 1) + countUpTo(text, '[', limit + 1) <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** Depth of an already-parsed value (iterative: a hostile object must not overflow the stack here either). */
export function valueDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let visited = 0;
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > limit || ++visited > 1_000_000) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (typeof x === 'object' && x !== null) stack.push([x, d + 1]);
  }
  return false;
}

/** The one JSON parser for outside input: bounded depth and size, never throws, says why it refused. */
export function parseJsonBounded(text: string, limits: JsonLimits = {}): BoundedJson {
  const maxBytes = limits.maxBytes ?? JSON_LIMITS.maxBytes;
  const maxDepth = limits.maxDepth ?? JSON_LIMITS.maxDepth;
  // UTF-16 length is at most the UTF-8 length: a cheap first test, the exact one only when close.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes)) {
    return { ok: false, reason: `larger than ${maxBytes} bytes` };
  }
  if (jsonTextDepthExceeds(text, maxDepth)) return { ok: false, reason: `nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, reason: `not valid JSON (${e instanceof Error ? e.message.slice(0, 120) : String(e)})` };
  }
}

/** Parse JSON, returning `undefined` instead of throwing (or when outside the bounds): DCS values are read tolerantly. */
export function tryParseJson(value: string, limits?: JsonLimits): unknown {
  const r = parseJsonBounded(value, limits);
  return r.ok ? r.value : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Python truthiness, for tags and flags written by Patroni (`"true"`, `1`, `true`...). */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Patroni's parse_bool: accepts on/off, yes/no, true/false, 1/0 (case-insensitive). */
export function parseBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (['on', 'true', 'yes', '1', 't', 'y'].includes(s)) return true;
  if (['off', 'false', 'no', '0', 'f', 'n'].includes(s)) return false;
  return undefined;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Own-property lookup: `"__proto__"` or `"constructor"` from a hostile document is just a key. */
export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** Assign as an own data property, so a `"__proto__"` key can never replace an object's prototype. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
