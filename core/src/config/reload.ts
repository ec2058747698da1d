/**
 * SIGHUP / POST /reload, as Patroni does it: the new local configuration is validated first (the
 * schema and every network-free check `run` makes); if anything is wrong the reload is refused with
 * the reasons and the running configuration stays. Settings a running agent cannot change (its
 * identity, the DCS it talks to, the data directory, binaries and listen address of the running
 * postmaster) keep their running values and are reported: they take effect when pgha restarts.
 * Everything else, `restapi` included (auth, allowlist, headers, listen, TLS), applies now.
 */
import { deepEqual, isPlainObject } from '../util/json.js';
import { staticConfigIssues } from './checks.js';
import type { LoadedConfig } from './index.js';
import type { ConfigObject } from './merge.js';
import { DCS_SECTION_NAMES } from './schema/dcs.js';
import type { ConfigIssue } from './schema/issues.js';

/** Key paths a reload never changes in the running agent. */
export const RESTART_ONLY_PATHS: ReadonlyArray<readonly string[]> = [
  ['name'], ['scope'], ['namespace'],
  ['postgresql', 'data_dir'], ['postgresql', 'config_dir'], ['postgresql', 'bin_dir'], ['postgresql', 'bin_name'],
  ['postgresql', 'listen'], ['postgresql', 'parameters', 'port'],
  ...DCS_SECTION_NAMES.map((s) => [s] as const),
];

export interface PendingChange {
  readonly path: string;
  readonly running: unknown;
  readonly configured: unknown;
}

export interface ReloadPlan {
  /** False: refuse the reload (issues say why) and keep the running configuration. */
  readonly ok: boolean;
  readonly issues: readonly ConfigIssue[];
  /** The configuration to adopt: the new one with the restart-only settings at their running values. */
  readonly local: LoadedConfig;
  /** Restart-only settings that differ: reported, applied when pgha restarts. */
  readonly pendingRestart: readonly PendingChange[];
  /** The `restapi` section changed: the REST server must re-apply it. */
  readonly restapiChanged: boolean;
}

function get(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isPlainObject(cur) ? cur[p] : undefined;
  return cur;
}

/** Copy `obj` with `path` set to `value` (removed when undefined); parents are created as needed. */
function withValue(obj: ConfigObject, path: readonly string[], value: unknown): ConfigObject {
  const [head, ...rest] = path;
  const out: ConfigObject = { ...obj };
  if (!rest.length) {
    if (value === undefined) delete out[head!];
    else out[head!] = value;
    return out;
  }
  const child = isPlainObject(out[head!]) ? (out[head!] as ConfigObject) : {};
  if (value === undefined && !isPlainObject(out[head!])) return out;
  out[head!] = withValue(child, rest, value);
  return out;
}

/** Decide what a reload from `current` to `next` does. Pure: the caller logs and applies. */
export function planReload(current: LoadedConfig, next: LoadedConfig): ReloadPlan {
  const issues = staticConfigIssues(next.config as ConfigObject);
  if (issues.length) return { ok: false, issues, local: current, pendingRestart: [], restapiChanged: false };
  let config = next.config as ConfigObject;
  let raw = next.raw;
  const pendingRestart: PendingChange[] = [];
  for (const path of RESTART_ONLY_PATHS) {
    const running = get(current.config, path);
    const configured = get(config, path);
    if (deepEqual(running ?? null, configured ?? null)) continue;
    pendingRestart.push({ path: path.join('.'), running, configured });
    config = withValue(config, path, running);
    raw = withValue(raw, path, get(current.raw, path));
  }
  const local: LoadedConfig = { ...next, config: config as LoadedConfig['config'], raw };
  return { ok: true, issues: [], local, pendingRestart, restapiChanged: !deepEqual(current.config.restapi ?? {}, config.restapi ?? {}) };
}

/** One log line per pending change. */
export function describePending(p: PendingChange): string {
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  return `${p.path} changed from ${show(p.running)} to ${show(p.configured)}: not applied to the running agent, takes effect when pgha restarts`;
}
