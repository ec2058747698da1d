/**
 * The whole Patroni configuration as a zod schema. Unknown keys are kept (Patroni allows custom
 * sections); known keys with wrong types are errors naming their key path.
 */
import { z } from 'zod';
import { DCS_SECTION_SCHEMAS, DCS_SECTION_NAMES } from './dcs.js';
import { dynamicKeys } from './dynamic.js';
import { configErrorMap, issuesFromZod, type ConfigIssue } from './issues.js';
import { methodSection, postgresqlSection } from './postgresql.js';
import { bootstrapSection, citusSection, ctlSection, logSection, pluginsList, restapiSection, tagsSection, watchdogSection } from './sections.js';
import { scalarString, str } from './primitives.js';
import { isPlainObject } from '../../util/json.js';
import { memberNameProblem } from '../../model/names.js';

export const pghaConfigSchema = z.looseObject({
  name: scalarString.optional(),
  scope: scalarString.optional(),
  namespace: str.optional(),
  plugins: pluginsList.optional(),
  log: logSection.optional(),
  restapi: restapiSection.optional(),
  ctl: ctlSection.optional(),
  ...optionalDcsSections(),
  citus: citusSection.optional(),
  bootstrap: bootstrapSection.optional(),
  postgresql: postgresqlSection.optional(),
  watchdog: watchdogSection.optional(),
  tags: tagsSection.optional(),
  ...dynamicKeys,
});

function optionalDcsSections() {
  return {
    etcd: DCS_SECTION_SCHEMAS.etcd.optional(),
    etcd3: DCS_SECTION_SCHEMAS.etcd3.optional(),
    consul: DCS_SECTION_SCHEMAS.consul.optional(),
    zookeeper: DCS_SECTION_SCHEMAS.zookeeper.optional(),
    exhibitor: DCS_SECTION_SCHEMAS.exhibitor.optional(),
    kubernetes: DCS_SECTION_SCHEMAS.kubernetes.optional(),
    raft: DCS_SECTION_SCHEMAS.raft.optional(),
  };
}

/** The validated local configuration; the type the HA engine reads. */
export type PghaConfig = z.output<typeof pghaConfigSchema>;
export type PostgresqlConfig = NonNullable<PghaConfig['postgresql']>;

/**
 * `agent`: what `pgha` needs to run a member (name, scope, data_dir, both listen addresses).
 * `ctl`: management commands, which only need to find the DCS.
 */
export type ConfigMode = 'agent' | 'ctl';

const REQUIRED_FOR_AGENT: ReadonlyArray<readonly string[]> = [
  ['name'], ['scope'], ['postgresql', 'data_dir'], ['postgresql', 'listen'], ['restapi', 'listen'],
];

function get(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isPlainObject(cur) ? cur[p] : undefined;
  return cur;
}

/** Method sections are ordinary keys named elsewhere (`create_replica_methods`, `bootstrap.method`). */
function methodSectionIssues(raw: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const check = (parent: string[], name: unknown) => {
    if (typeof name !== 'string' || name === 'basebackup' || name === 'initdb') return;
    const section = get(raw, [...parent, name]);
    if (section === undefined) return;
    const r = methodSection.safeParse(section, { error: configErrorMap });
    if (!r.success) issues.push(...issuesFromZod(r.error, [...parent, name]));
  };
  const methods = get(raw, ['postgresql', 'create_replica_methods']);
  if (Array.isArray(methods)) methods.forEach((m) => check(['postgresql'], m));
  check(['bootstrap'], get(raw, ['bootstrap', 'method']));
  return issues;
}

/** `name` becomes a DCS key segment and application_name; `scope` a key segment too. */
function identityIssues(raw: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (typeof raw.name === 'string' || typeof raw.name === 'number') {
    const why = memberNameProblem(String(raw.name));
    if (why) issues.push({ path: 'name', message: why });
  }
  if (typeof raw.scope === 'string') {
    if (raw.scope === '' ) issues.push({ path: 'scope', message: 'must not be empty' });
    else if (raw.scope.includes('/') || /[\u0000-\u001f\u007f-\u009f]/.test(raw.scope)) issues.push({ path: 'scope', message: "must not contain '/' or control characters" });
  }
  return issues;
}

export type ValidationResult =
  | { readonly ok: true; readonly config: PghaConfig; readonly issues: readonly [] }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Validate a whole (env-overlaid) local configuration. */
export function validateConfig(raw: unknown, mode: ConfigMode = 'agent'): ValidationResult {
  if (!isPlainObject(raw)) return { ok: false, issues: [{ path: '', message: 'configuration must be a mapping' }] };
  const issues: ConfigIssue[] = [];
  const r = pghaConfigSchema.safeParse(raw, { error: configErrorMap });
  if (!r.success) issues.push(...issuesFromZod(r.error));
  issues.push(...methodSectionIssues(raw));
  issues.push(...identityIssues(raw));
  if (mode === 'agent') {
    for (const path of REQUIRED_FOR_AGENT) {
      const v = get(raw, path);
      const p = path.join('.');
      if ((v === undefined || v === null || v === '') && !issues.some((i) => i.path === p)) issues.push({ path: p, message: 'required' });
    }
  }
  if (issues.length || !r.success) return { ok: false, issues };
  return { ok: true, config: r.data, issues: [] };
}

export { DCS_SECTION_NAMES };
export type { ConfigIssue };
