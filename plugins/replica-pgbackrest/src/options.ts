/**
 * The `postgresql.pgbackrest` section. Two forms:
 * - Patroni's: a `command` (`/usr/bin/pgbackrest --stanza=demo --delta restore`) run exactly as
 *   Patroni runs a custom replica method (keep_data, no_leader, no_params; other keys as --key=value).
 * - pgha's: no `command`; pgha builds `pgbackrest [--config] --stanza --pg1-path --type=standby
 *   [--delta] [extra options] restore` itself (stanza defaults to the scope).
 */
import { z } from 'zod';

const patroniFlag = z.union([z.boolean(), z.number(), z.string()]);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** pgBackRest option names: lower-case words joined by dashes (repo1-path, process-max). */
export const OPTION_NAME = /^[a-z0-9][a-z0-9-]*$/;
/** Keys that are pgha's (or Patroni's), never passed to pgBackRest as options. */
const KNOWN = new Set(['command', 'keep_data', 'no_leader', 'no_master', 'no_params', 'stanza', 'config', 'type', 'delta']);

export const pgbackrestSection = z.object({
  command: z.string().min(1).optional(),
  keep_data: patroniFlag.optional(),
  no_leader: patroniFlag.optional(),
  no_master: patroniFlag.optional(),
  no_params: patroniFlag.optional(),
  stanza: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  type: z.enum(['standby', 'preserve', 'default', 'none']).optional(),
  delta: z.boolean().optional(),
}).catchall(z.union([scalar, z.array(scalar)]).nullable()).superRefine((v, ctx) => {
  if (v.command !== undefined) return;
  for (const k of Object.keys(v)) {
    if (!KNOWN.has(k) && !OPTION_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `not a pgBackRest option name (expected lower-case words joined by dashes)` });
  }
  if ('pg1-path' in v) ctx.addIssue({ code: 'custom', path: ['pg1-path'], message: "set by pgha (the member's data_dir); remove it" });
  for (const k of ['restore', 'backup']) if (k in v) ctx.addIssue({ code: 'custom', path: [k], message: 'not an option: pgha always runs the restore command' });
});

export type PgBackRestSection = z.infer<typeof pgbackrestSection>;


/** One pgBackRest option on the command line: true → --name, false → --no-name, lists repeat. */
function optionArgs(name: string, v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.flatMap((x) => optionArgs(name, x));
  if (v === true) return [`--${name}`];
  if (v === false) return [`--no-${name}`];
  return [`--${name}=${String(v)}`];
}

export interface RestorePlan {
  readonly argv: string[];
  readonly delta: boolean;
}

/**
 * argv for pgha's own form. `hasCluster`: PGDATA holds a cluster (PG_VERSION), so --delta can reuse
 * the files that match (pgBackRest refuses --delta on a directory that is not a cluster).
 */
export function restoreArgv(s: PgBackRestSection, scope: string, dataDir: string, hasCluster: boolean): RestorePlan {
  const delta = s.delta ?? true;
  const useDelta = delta && hasCluster;
  const argv = ['pgbackrest'];
  if (s.config) argv.push(`--config=${s.config}`);
  argv.push(`--stanza=${s.stanza ?? scope}`, `--pg1-path=${dataDir}`, `--type=${s.type ?? 'standby'}`);
  if (useDelta) argv.push('--delta');
  for (const [k, v] of Object.entries(s)) if (!KNOWN.has(k)) argv.push(...optionArgs(k, v));
  argv.push('restore');
  return { argv, delta: useDelta };
}
