/**
 * The `PATRONI_*` environment overlay (reference §6.3), with `PGHA_*` accepted as aliases (PGHA_
 * wins when both are set). Pure: takes the environment as a parameter and reports which variables it
 * used, so the agent can remove them from its own environment as Patroni does (passwords must not
 * leak into child processes).
 */
import { parseBool } from '../util/json.js';
import { parseYaml } from './load.js';
import type { ConfigObject } from './merge.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvOverlay {
  /** Configuration built from the environment; patch it over the YAML. */
  readonly config: ConfigObject;
  /** Names of the environment variables consumed (both spellings when both were set). */
  readonly consumed: readonly string[];
  /** Values that could not be parsed (kept as strings so validation names the key). */
  readonly warnings: readonly string[];
}

export const ENV_PREFIXES = ['PATRONI_', 'PGHA_'] as const;
export const AUTH_PARAMS = [
  'username', 'password', 'sslmode', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl', 'sslcrldir',
  'gssencmode', 'channel_binding', 'sslnegotiation',
] as const;
export const ENV_DCS_NAMES = ['etcd', 'etcd3', 'consul', 'zookeeper', 'exhibitor', 'kubernetes', 'raft'] as const;

const SECTION_PARAMS: Record<string, readonly string[]> = {
  restapi: ['listen', 'connect_address', 'certfile', 'keyfile', 'keyfile_password', 'cafile', 'ciphers', 'verify_client',
    'http_extra_headers', 'https_extra_headers', 'allowlist', 'allowlist_include_members', 'request_queue_size', 'server_tokens'],
  ctl: ['insecure', 'cacert', 'certfile', 'keyfile', 'keyfile_password'],
  postgresql: ['listen', 'connect_address', 'proxy_address', 'config_dir', 'data_dir', 'pgpass', 'bin_dir'],
  log: ['type', 'level', 'traceback_level', 'format', 'dateformat', 'static_fields', 'max_queue_size', 'dir', 'mode',
    'file_size', 'file_num', 'loggers', 'deduplicate_heartbeat_logs'],
  raft: ['data_dir', 'self_addr', 'partner_addrs', 'password', 'bind_addr'],
};
const BOOL_PARAMS = [['restapi', 'allowlist_include_members'], ['ctl', 'insecure'], ['log', 'deduplicate_heartbeat_logs']] as const;
const INT_PARAMS = [['restapi', 'request_queue_size'], ['log', 'max_queue_size'], ['log', 'file_size'], ['log', 'file_num'], ['log', 'mode']] as const;
const LIST_PARAMS = [['raft', 'partner_addrs'], ['restapi', 'allowlist']] as const;
const DICT_PARAMS = [['restapi', 'http_extra_headers'], ['restapi', 'https_extra_headers'], ['log', 'static_fields'], ['log', 'loggers']] as const;
const BINARIES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'];

/** Suffixes of the generic `PATRONI_<DCS>_<SUFFIX>` rule, with how each value is parsed. */
const DCS_SUFFIXES = new Set([
  'HOST', 'HOSTS', 'PORT', 'USE_PROXIES', 'PROTOCOL', 'SRV', 'SRV_SUFFIX', 'URL', 'PROXY', 'CACERT', 'CERT', 'KEY', 'VERIFY',
  'TOKEN', 'CHECKS', 'DC', 'CONSISTENCY', 'REGISTER_SERVICE', 'SERVICE_CHECK_INTERVAL', 'SERVICE_CHECK_TLS_SERVER_NAME',
  'SERVICE_TAGS', 'NAMESPACE', 'CONTEXT', 'USE_ENDPOINTS', 'SCOPE_LABEL', 'ROLE_LABEL', 'POD_IP', 'PORTS', 'LABELS',
  'BYPASS_API_SERVICE', 'RETRIABLE_HTTP_CODES', 'KEY_PASSWORD', 'USE_SSL', 'SET_ACLS', 'AUTH_DATA', 'LEADER_LABEL_VALUE',
  'FOLLOWER_LABEL_VALUE', 'STANDBY_LEADER_LABEL_VALUE', 'TMP_ROLE_LABEL', 'BOOTSTRAP_LABELS',
]);
const LIST_SUFFIXES = new Set(['HOSTS', 'PORTS', 'CHECKS', 'SERVICE_TAGS', 'RETRIABLE_HTTP_CODES']);
const DICT_SUFFIXES = new Set(['LABELS', 'SET_ACLS', 'AUTH_DATA', 'BOOTSTRAP_LABELS']);
const BOOL_SUFFIXES = new Set(['USE_PROXIES', 'REGISTER_SERVICE', 'USE_ENDPOINTS', 'BYPASS_API_SERVICE', 'VERIFY', 'USE_SSL']);

/** Patroni's _parse_list: `a,b` or `[a, b]` or a YAML block list. */
export function parseEnvList(value: string): unknown {
  const text = value.trim().startsWith('-') || value.includes('[') ? value : `[${value}]`;
  return parseYaml(text, 'environment');
}

/** Patroni's _parse_dict: `a: 1, b: 2` or `{a: 1, b: 2}`. */
export function parseEnvDict(value: string): unknown {
  return parseYaml(value.trim().startsWith('{') ? value : `{${value}}`, 'environment');
}

/** Environment variables by their name after the prefix; PGHA_ beats PATRONI_. */
class PrefixedEnv {
  private readonly values = new Map<string, { value: string; keys: string[] }>();
  readonly consumed = new Set<string>();

  constructor(env: Env) {
    for (const prefix of ENV_PREFIXES) {
      for (const [key, value] of Object.entries(env)) {
        if (!key.startsWith(prefix) || value === undefined) continue;
        const name = key.slice(prefix.length);
        const prev = this.values.get(name);
        this.values.set(name, { value, keys: [...(prev?.keys ?? []), key] });
      }
    }
  }

  /** Take a variable (marking it consumed); empty values count as unset, as in Patroni. */
  pop(name: string): string | undefined {
    const hit = this.values.get(name.toUpperCase()) ?? this.values.get(name);
    if (!hit) return undefined;
    hit.keys.forEach((k) => this.consumed.add(k));
    this.values.delete(name.toUpperCase());
    this.values.delete(name);
    return hit.value || undefined;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  names(): string[] {
    return [...this.values.keys()];
  }
}

function section(ret: ConfigObject, name: string): ConfigObject {
  return (ret[name] ??= {}) as ConfigObject;
}

/** Build the configuration the environment describes. `dcsNames` adds plugin DCS sections to the generic rule. */
export function envOverlay(env: Env, opts: { dcsNames?: readonly string[] } = {}): EnvOverlay {
  const e = new PrefixedEnv(env);
  const ret: ConfigObject = {};
  const warnings: string[] = [];
  const parsed = (what: string, raw: string, parse: (v: string) => unknown): unknown => {
    try {
      return parse(raw);
    } catch {
      warnings.push(`could not parse ${what}=${raw}`);
      return raw;
    }
  };

  for (const param of ['name', 'namespace', 'scope']) {
    const v = e.pop(param);
    if (v) ret[param] = v;
  }
  // Old spellings of the log variables, used only when the new one is unset.
  for (const [name, old] of [['LOG_LEVEL', 'LOGLEVEL'], ['LOG_FORMAT', 'LOGFORMAT'], ['LOG_DATEFORMAT', 'LOG_DATEFMT']] as const) {
    const v = e.pop(old);
    if (v && !e.has(name)) section(ret, 'log')[name.slice(4).toLowerCase()] = v;
  }
  for (const [sec, params] of Object.entries(SECTION_PARAMS)) {
    for (const p of params) {
      const v = e.pop(`${sec}_${p}`);
      if (v) section(ret, sec)[p] = v;
    }
  }
  for (const b of BINARIES) {
    const v = e.pop(`POSTGRESQL_BIN_${b}`);
    if (v) ((section(ret, 'postgresql').bin_name ??= {}) as ConfigObject)[b] = v;
  }

  const convert = (pairs: ReadonlyArray<readonly [string, string]>, fn: (v: string) => unknown) => {
    for (const [sec, key] of pairs) {
      const s = ret[sec] as ConfigObject | undefined;
      if (s && typeof s[key] === 'string') s[key] = parsed(`${sec}.${key}`, s[key] as string, fn);
    }
  };
  convert(BOOL_PARAMS, (v) => parseBool(v) ?? v);
  convert(INT_PARAMS, (v) => (/^\s*-?\d+\s*$/.test(v) ? Number(v) : v));
  convert(LIST_PARAMS, parseEnvList);
  convert(DICT_PARAMS, parseEnvDict);
  const log = ret.log as ConfigObject | undefined;
  if (typeof log?.format === 'string' && !/%\(\w+\)/.test(log.format)) log.format = parsed('log.format', log.format, parseEnvList);

  const auth = (name: string, params: readonly string[]) => {
    const out: ConfigObject = {};
    for (const p of params) {
      const v = e.pop(`${name}_${p}`);
      if (v) out[p] = v;
    }
    return Object.keys(out).length ? out : null;
  };
  for (const sec of ['ctl', 'restapi']) {
    const a = auth(sec, ['username', 'password']);
    if (a) section(ret, sec).authentication = a;
  }
  const pgAuth: ConfigObject = {};
  for (const userType of ['replication', 'superuser', 'rewind']) {
    const a = auth(userType, AUTH_PARAMS);
    if (a) pgAuth[userType] = a;
  }
  if (Object.keys(pgAuth).length) section(ret, 'postgresql').authentication = pgAuth;
  for (const dcs of ['etcd', 'etcd3']) {
    const a = auth(dcs, ['username', 'password']);
    if (a) Object.assign(section(ret, dcs), a);
  }

  applyGenericDcsRule(e, ret, new Set([...ENV_DCS_NAMES, ...(opts.dcsNames ?? [])].map((n) => n.toUpperCase())), parsed);
  applyUsers(e, ret, parsed);
  return { config: ret, consumed: [...e.consumed], warnings };
}

type Parser = (what: string, raw: string, parse: (v: string) => unknown) => unknown;

/** `PATRONI_<DCS>_<SUFFIX>` and `PATRONI_CITUS_{GROUP,DATABASE}`. */
function applyGenericDcsRule(e: PrefixedEnv, ret: ConfigObject, dcsNames: Set<string>, parsed: Parser): void {
  for (const full of e.names()) {
    const cut = full.indexOf('_');
    if (cut <= 0) continue;
    const name = full.slice(0, cut);
    const suffix = full.slice(cut + 1);
    if (name === 'CITUS') {
      if (suffix !== 'GROUP' && suffix !== 'DATABASE') continue;
      const v = e.pop(full);
      if (v) section(ret, 'citus')[suffix.toLowerCase()] = suffix === 'GROUP' ? parsed('citus.group', v, (x) => (/^\s*-?\d+\s*$/.test(x) ? Number(x) : x)) : v;
      continue;
    }
    if (!dcsNames.has(name) || !DCS_SUFFIXES.has(suffix)) continue;
    const raw = e.pop(full);
    if (!raw) continue;
    const key = `${name.toLowerCase()}.${suffix.toLowerCase()}`;
    let value: unknown = raw;
    if (suffix === 'PORT') value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
    else if (LIST_SUFFIXES.has(suffix)) value = parsed(key, raw, parseEnvList);
    else if (DICT_SUFFIXES.has(suffix)) value = parsed(key, raw, parseEnvDict);
    else if (BOOL_SUFFIXES.has(suffix)) value = parseBool(raw) ?? raw;
    section(ret, name.toLowerCase())[suffix.toLowerCase()] = value;
  }
}

/** Deprecated `PATRONI_<user>_PASSWORD` / `_OPTIONS` → bootstrap.users. */
function applyUsers(e: PrefixedEnv, ret: ConfigObject, parsed: Parser): void {
  const users: ConfigObject = {};
  for (const full of e.names()) {
    if (!full.endsWith('_PASSWORD') || full.length <= '_PASSWORD'.length) continue;
    const user = full.slice(0, -'_PASSWORD'.length);
    const password = e.pop(full);
    if (!password) continue;
    const entry: ConfigObject = { password };
    const options = e.pop(`${user}_OPTIONS`);
    if (options) entry.options = parsed(`bootstrap.users.${user}.options`, options, parseEnvList);
    users[user] = entry;
  }
  if (Object.keys(users).length) section(ret, 'bootstrap').users = users;
}
