/**
 * The `postgresql.barman` section. Keys use patroni_barman's option names, so one section serves
 * both forms:
 * - Patroni's: `command: patroni_barman --api-url https://barman:7480 recover` plus `barman-server`,
 *   `ssh-command`... pgha runs pg-backup-api's recovery itself (no Python needed); any other
 *   `command` runs as Patroni runs a custom replica method.
 * - pgha's: no `command`. With `api-url`, recovery through pg-backup-api (Barman on another host);
 *   without, `barman [-c config] recover <server> <backup-id> <data_dir>` on this host (the Barman
 *   catalogue is local, e.g. a Barman server that also runs the agent, or a mounted repository).
 */
import { z } from 'zod';

const patroniFlag = z.union([z.boolean(), z.number(), z.string()]);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const seconds = z.coerce.number().int().min(0).max(86_400);
export const OPTION_NAME = /^[a-z0-9][a-z0-9-]*$/;

export const KNOWN_KEYS = new Set([
  'command', 'keep_data', 'no_leader', 'no_master', 'no_params',
  'barman-server', 'backup-id', 'config', 'api-url', 'cert-file', 'key-file', 'retry-wait', 'max-retries', 'loop-wait', 'ssh-command', 'log-file',
]);

export const barmanSection = z.object({
  command: z.string().min(1).optional(),
  keep_data: patroniFlag.optional(),
  no_leader: patroniFlag.optional(),
  no_master: patroniFlag.optional(),
  no_params: patroniFlag.optional(),
  'barman-server': z.string().min(1).optional(),
  'backup-id': z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  'api-url': z.string().url().optional(),
  'cert-file': z.string().min(1).optional(),
  'key-file': z.string().min(1).optional(),
  'retry-wait': seconds.optional(),
  'max-retries': z.coerce.number().int().min(1).max(1000).optional(),
  'loop-wait': seconds.optional(),
  'ssh-command': z.string().min(1).optional(),
  'log-file': z.string().optional(),
}).catchall(z.union([scalar, z.array(scalar)]).nullable()).superRefine((v, ctx) => {
  if (v.command !== undefined) return;
  if (!v['barman-server']) ctx.addIssue({ code: 'custom', path: ['barman-server'], message: 'required: the Barman server to recover from' });
  if (v['api-url'] && !v['ssh-command']) ctx.addIssue({ code: 'custom', path: ['ssh-command'], message: 'required with api-url: how the Barman host reaches this one (ssh postgres@this-host)' });
  for (const k of Object.keys(v)) {
    if (KNOWN_KEYS.has(k)) continue;
    if (!OPTION_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'not a barman recover option name (expected lower-case words joined by dashes)' });
    else if (v['api-url']) ctx.addIssue({ code: 'custom', path: [k], message: 'barman recover options cannot be passed through pg-backup-api; remove it or api-url' });
  }
});

export type BarmanSection = z.infer<typeof barmanSection>;

function optionArgs(name: string, v: unknown): string[] {
  if (v === null || v === undefined || v === false) return [];
  if (Array.isArray(v)) return v.flatMap((x) => optionArgs(name, x));
  if (v === true) return [`--${name}`];
  return [`--${name}=${String(v)}`];
}

/** argv of a local `barman recover` (extra keys are recover options: get-wal, jobs, target-time...). */
export function recoverArgv(s: BarmanSection, dataDir: string): string[] {
  const argv = ['barman'];
  if (s.config) argv.push('-c', s.config);
  argv.push('recover');
  for (const [k, v] of Object.entries(s)) if (!KNOWN_KEYS.has(k)) argv.push(...optionArgs(k, v));
  if (s['ssh-command']) argv.push(`--remote-ssh-command=${s['ssh-command']}`);
  argv.push(s['barman-server']!, s['backup-id'] ?? 'latest', dataDir);
  return argv;
}

/** patroni_barman's global and `recover` options, read from a command line (`--opt value` or `--opt=value`). */
export function parsePatroniBarmanArgv(argv: readonly string[]): { subcommand: string | null; options: Record<string, string> } {
  const options: Record<string, string> = {};
  let subcommand: string | null = null;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) options[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) options[a.slice(2)] = argv[++i]!;
      else options[a.slice(2)] = 'true';
    } else if (subcommand === null) subcommand = a;
  }
  return { subcommand, options };
}
