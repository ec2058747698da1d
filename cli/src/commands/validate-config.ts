/**
 * `pgha validate-config FILE`: Patroni's `--validate-config`. Reads the file or directory with the
 * PATRONI_/PGHA_ environment applied (what the agent would run), prints `configuration is valid` and
 * any warnings, or every issue with its key path and exit status 1.
 */
import type { Command } from 'commander';
import { ConfigError, PghaError, readConfig, validateConfig } from '@pgha/core';

export function validateConfigReport(file: string, opts: { ctl?: boolean; env?: NodeJS.ProcessEnv }): { ok: boolean; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  try {
    const read = readConfig({ path: file, env: opts.env ?? process.env });
    const r = validateConfig(read.raw, opts.ctl ? 'ctl' : 'agent');
    if (!r.ok) {
      for (const i of r.issues) err.push(`${i.path || '(root)'}: ${i.message}`);
      return { ok: false, out, err };
    }
    out.push('configuration is valid');
    for (const w of read.warnings) out.push(`WARNING: ${w}`);
    return { ok: true, out, err };
  } catch (e) {
    if (e instanceof ConfigError) for (const i of e.issues) err.push(`${i.path || '(root)'}: ${i.message}`);
    else err.push(e instanceof PghaError || e instanceof Error ? e.message : String(e));
    return { ok: false, out, err };
  }
}

export function registerValidateConfig(program: Command): void {
  program
    .command('validate-config')
    .description('validate a Patroni/pgha configuration file (or directory of *.yml files)')
    .argument('<file>', 'configuration file or directory')
    .option('--ctl', 'validate as a management-only configuration (no member settings required)')
    .action((file: string, opts: { ctl?: boolean }) => {
      const r = validateConfigReport(file, opts);
      if (r.out.length) process.stdout.write(`${r.out.join('\n')}\n`);
      if (r.err.length) process.stderr.write(`${r.err.join('\n')}\n`);
      if (!r.ok) process.exitCode = 1;
    });
}
