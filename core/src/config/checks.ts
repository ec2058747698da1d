/**
 * The checks `pgha run` makes before it starts anything, that need no network: listen and connect
 * addresses (host:port with a port in 1..65535), DCS host lists, `data_dir` (not a file, creatable,
 * empty or a data directory), `bin_dir` (the PostgreSQL binaries are there and executable).
 * `validate-config` runs the same list, so the two always agree; `run` exits with these reasons
 * instead of retrying a configuration that can never work.
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isPlainObject } from '../util/json.js';
import type { ConfigIssue } from './schema/issues.js';

/** Binaries the agent runs (Patroni's bin_dir check lists the same, pg_rewind only with use_pg_rewind). */
const REQUIRED_BINARIES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready'] as const;
export const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

function portProblem(p: string): string | null {
  if (!/^\d{1,5}$/.test(p)) return `port "${p}" is not a number`;
  const n = Number(p);
  return n >= 1 && n <= 65535 ? null : `port ${n} is out of range 1..65535`;
}

/**
 * `host:port`, `[v6]:port`, or with `multipleHosts` `h1,h2:port`. `portRequired` false accepts a bare
 * host (DCS lists default the port). Returns the problem or null.
 */
export function hostPortProblem(value: string, o: { portRequired: boolean; multipleHosts?: boolean }): string | null {
  const v = value.trim();
  if (!v) return 'is empty';
  if (/[\s/@?#]/.test(v) || /[\u0000-\u001f\u007f]/.test(v)) return `"${v}" is not host:port`;
  const m = /^(\[[^\]]*\]|[^[\]]*?)(?::([^:\]]*))?$/.exec(v);
  if (!m) return `"${v}" is not host:port`;
  const [, host = '', port] = m;
  if (port === undefined) {
    if (o.portRequired) return `expected <HOST>:<PORT>, got "${v}"`;
  } else {
    const p = portProblem(port);
    if (p) return p;
  }
  const hosts = o.multipleHosts ? host.split(',') : [host];
  for (const h of hosts.map((x) => x.trim())) {
    if (h === '' && o.portRequired && hosts.length === 1) continue; // ":8008": the default host
    if (h === '' || (h.startsWith('[') ? !/^\[[0-9A-Fa-f:.%\w]+\]$/.test(h) : !/^[\w.*%:-]+$/.test(h))) return `"${v}" has an invalid host "${h}"`;
  }
  return null;
}

function get(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isPlainObject(cur) ? cur[p] : undefined;
  return cur;
}

function listOf(v: unknown): string[] | null {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return null;
}

function dataDirProblem(dir: string): string | null {
  const abs = resolve(dir);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) return `${dir} is not a directory`;
    const files = readdirSync(abs).filter((f) => f !== 'lost+found' && !f.startsWith('.'));
    if (files.length && !files.includes('PG_VERSION')) return `${dir} is not empty and doesn't look like a PostgreSQL data directory (no PG_VERSION)`;
    return null;
  }
  // It will be created: the nearest existing ancestor must be a directory we can write into.
  let parent = dirname(abs);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) return `${dir} cannot be created: ${parent} is not a directory`;
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch {
    return `${dir} cannot be created: ${parent} is not writable`;
  }
  return null;
}

function binDirProblems(pg: Record<string, unknown>): ConfigIssue[] {
  const binDir = typeof pg.bin_dir === 'string' && pg.bin_dir ? pg.bin_dir : DEFAULT_BIN_DIR;
  const path = typeof pg.bin_dir === 'string' ? 'postgresql.bin_dir' : 'postgresql.bin_dir (default)';
  if (!existsSync(binDir) || !statSync(binDir).isDirectory()) return [{ path, message: `${binDir} is not a directory` }];
  const names = isPlainObject(pg.bin_name) ? pg.bin_name : {};
  const wanted: string[] = [...REQUIRED_BINARIES, ...(pg.use_pg_rewind === true ? ['pg_rewind'] : [])];
  const missing: string[] = [];
  for (const b of wanted) {
    const file = typeof names[b] === 'string' && names[b] ? String(names[b]) : b;
    const full = isAbsolute(file) ? file : join(binDir, file);
    try {
      accessSync(full, constants.X_OK);
      if (!statSync(full).isFile()) missing.push(full);
    } catch {
      missing.push(full);
    }
  }
  return missing.length ? [{ path, message: `missing or not executable: ${missing.join(', ')}` }] : [];
}

/** Host lists per DCS section, by key: [path, multiple, portRequired]. */
const DCS_ADDRESSES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['etcd', 'host', false], ['etcd', 'hosts', false], ['etcd3', 'host', false], ['etcd3', 'hosts', false],
  ['zookeeper', 'hosts', false], ['exhibitor', 'hosts', false], ['consul', 'host', false],
  ['raft', 'self_addr', true], ['raft', 'partner_addrs', true], ['raft', 'bind_addr', true],
];

/**
 * Every network-free check of a validated local configuration (agent mode). An empty list means
 * `run` will get as far as connecting to the DCS.
 */
export function staticConfigIssues(config: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const addr = (path: string[], o: { portRequired: boolean; multipleHosts?: boolean }) => {
    const v = get(config, path);
    if (v === undefined || v === null || v === '') return;
    const why = hostPortProblem(String(v), o);
    if (why) issues.push({ path: path.join('.'), message: why });
  };
  addr(['restapi', 'listen'], { portRequired: true });
  addr(['restapi', 'connect_address'], { portRequired: true });
  addr(['postgresql', 'listen'], { portRequired: true, multipleHosts: true });
  addr(['postgresql', 'connect_address'], { portRequired: true });
  addr(['postgresql', 'proxy_address'], { portRequired: true });
  for (const [section, key, portRequired] of DCS_ADDRESSES) {
    const v = get(config, [section, key]);
    if (v === undefined || v === null) continue;
    const items = listOf(v);
    if (!items || !items.length) {
      issues.push({ path: `${section}.${key}`, message: 'expected host:port or a list of them' });
      continue;
    }
    for (const item of items) {
      const why = hostPortProblem(item, { portRequired });
      if (why) issues.push({ path: `${section}.${key}`, message: why });
    }
  }
  // The REST API reads its TLS files when it binds: a missing one would stop `run` (or a reload) there.
  for (const k of ['certfile', 'keyfile', 'cafile']) {
    const f = get(config, ['restapi', k]);
    if (typeof f !== 'string' || !f) continue;
    try {
      accessSync(f, constants.R_OK);
      if (!statSync(f).isFile()) issues.push({ path: `restapi.${k}`, message: `${f} is not a file` });
    } catch {
      issues.push({ path: `restapi.${k}`, message: `${f} does not exist or is not readable` });
    }
  }
  const pg = isPlainObject(config.postgresql) ? config.postgresql : {};
  if (typeof pg.data_dir === 'string' && pg.data_dir) {
    const why = dataDirProblem(pg.data_dir);
    if (why) issues.push({ path: 'postgresql.data_dir', message: why });
  }
  issues.push(...binDirProblems(pg));
  return issues;
}
