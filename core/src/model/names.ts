/**
 * Member-name and connection-string helpers shared by every DCS driver and the PostgreSQL layer.
 */

const slotNames = new Map<string, string>(); // slotNameFromMemberName's memo

/**
 * Translate a member name to a valid PostgreSQL replication slot name, as Patroni does: lower-case,
 * `-` and `.` become `_`, any other character outside [a-z0-9_] becomes `u` + its 4-digit hex code
 * point, truncated to 63 characters (NAMEDATALEN - 1). Different names may map to the same slot.
 */
export function slotNameFromMemberName(memberName: string): string {
  let out = slotNames.get(memberName);
  if (out !== undefined) return out;
  out = '';
  for (const ch of memberName.toLowerCase()) {
    if (/[a-z0-9_]/.test(ch)) out += ch;
    else if (ch === '-' || ch === '.') out += '_';
    else out += 'u' + (ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0');
  }
  out = out.slice(0, 63);
  // The same few names are asked for several times every cycle; a member name comes from the DCS, so the memo is bounded.
  if (slotNames.size >= 256) slotNames.clear();
  slotNames.set(memberName, out);
  return out;
}

/** Slot names PostgreSQL accepts: lower-case letters, digits, underscore. */
export const SLOT_NAME_RE = /^[a-z0-9_]{1,63}$/;

/**
 * Split a legacy Governor-style member value `postgres://u:p@host:port/db?application_name=<api_url>`
 * into `[connUrl, apiUrl]`. The api_url travels in application_name so plain libpq can still use the URL.
 */
export function parseConnectionString(value: string): [string, string | null] {
  const qIdx = value.indexOf('?');
  if (qIdx < 0) return [value, null];
  const base = value.slice(0, qIdx);
  const params = new URLSearchParams(value.slice(qIdx + 1));
  const apiUrl = params.get('application_name');
  params.delete('application_name');
  const rest = params.toString();
  return [rest ? `${base}?${rest}` : base, apiUrl];
}

/** Build `proto://[user@]host:port/path`, bracketing IPv6 literals. */
export function buildUri(proto: string, host: string | null | undefined, port?: number | string | null, path = '', user?: string | null): string {
  let h = host ?? '';
  if (h.includes(':') && !h.startsWith('[')) h = `[${h}]`;
  const netloc = port !== undefined && port !== null && port !== '' ? `${h}:${port}` : h;
  return `${proto}://${user ? `${user}@` : ''}${netloc}/${path}`;
}

/** Parse an integer the way Patroni's parse_int does for DCS values: numbers or numeric strings. */
export function parseIntLoose(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return parseInt(v, 10);
  return null;
}

/** Patroni's strict synchronous mode placeholder: a member may not be called that. */
export const SYNC_STRICT_PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__';

/**
 * Why `name` cannot be a member name, or null. Patroni refuses only the placeholder; pgha also
 * refuses what cannot be one DCS key segment: `/` (ZooKeeper makes it a child node, etcd/Consul a
 * deeper key that no member listing sees), `.`/`..`, control characters (a newline in an etcd key,
 * in log lines and in application_name), and names over 255 characters.
 */
export function memberNameProblem(name: string): string | null {
  if (name === '') return 'must not be empty';
  if (name === SYNC_STRICT_PLACEHOLDER) return `can't be set to '${SYNC_STRICT_PLACEHOLDER}'`;
  if (name.length > 255) return 'must be at most 255 characters';
  if (name.includes('/')) return "must not contain '/' (it is one DCS key segment)";
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'must not contain control characters';
  return null;
}

/**
 * A member name as one file-name component: letters, digits, `_` and `-` kept, every other
 * character `%XX`-encoded (so `..` and `/` can never walk out of the directory).
 */
export function fileSafeName(name: string): string {
  const out = Array.from(Buffer.from(name, 'utf8'), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9_-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
  return out.slice(0, 200) || '%';
}
