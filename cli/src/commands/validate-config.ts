/**
 * `pgha validate-config FILE`: Patroni's `--validate-config`. Reads the file or directory with the
 * PATRONI_/PGHA_ environment applied (what the agent would run), then makes every check `pgha run`
 * makes before it connects anywhere: the schema, listen/connect addresses and ports, DCS host lists,
 * a usable DCS section (its plugin loads and accepts the section), data_dir and bin_dir. Prints
 * `configuration is valid` and any warnings (every key pgha does not act on, one per line), or every issue with its key path and exit status 1.
 */
import type { Command } from 'commander';
import { ConfigError, PghaError, PluginHost, configBaseDir, readConfig, staticConfigIssues, unimplementedKeys, unimplementedWarning, validateConfig } from '@pgha/core';

export interface ValidateReport { ok: boolean; out: string[]; err: string[] }

export async function validateConfigReport(file: string, opts: { ctl?: boolean; env?: NodeJS.ProcessEnv }): Promise<ValidateReport> {
  const out: string[] = [];
  const err: string[] = [];
  const fail = (issues: ReadonlyArray<{ path: string; message: string }>) => {
    for (const i of issues) err.push(`${i.path || '(root)'}: ${i.message}`);
    return { ok: false, out, err };
  };
  try {
    const read = readConfig({ path: file, env: opts.env ?? process.env });
    const r = validateConfig(read.raw, opts.ctl ? 'ctl' : 'agent');
    if (!r.ok) return fail(r.issues);
    const issues = opts.ctl ? [] : [...staticConfigIssues(r.config)];
    const host = new PluginHost({ config: r.config, baseDir: configBaseDir(file) });
    const dcs = await host.checkDcs();
    if (dcs.error) issues.push({ path: '(dcs)', message: dcs.error.replace(/\n\s*/g, '; ') });
    // Replica-method plugins: refused ones and sections their schema rejects (key path in the message).
    if (!opts.ctl) issues.push(...(await host.checkReplicaMethods()));
    if (issues.length) return fail(issues);
    out.push('configuration is valid');
    // Nothing accepted silently: the keys pgha does not act on, one per line (not also as the one-line warning).
    const ignored = unimplementedKeys(read.raw);
    const oneLine = unimplementedWarning(ignored, read.source);
    for (const w of read.warnings) if (w !== oneLine) out.push(`WARNING: ${w}`);
    if (ignored.length) {
      out.push('WARNING: pgha does not act on these keys (yet); they are ignored:');
      for (const p of ignored) out.push(`  ${p}`);
    }
    return { ok: true, out, err };
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.issues);
    err.push(e instanceof PghaError || e instanceof Error ? e.message : String(e));
    return { ok: false, out, err };
  }
}

export function registerValidateConfig(program: Command): void {
  program
    .command('validate-config')
    .description('validate a Patroni/pgha configuration file (or directory of *.yml files)')
    .argument('<file>', 'configuration file or directory')
    .option('--ctl', 'validate as a management-only configuration (no member settings required)')
    .action(async (file: string, opts: { ctl?: boolean }) => {
      const r = await validateConfigReport(file, opts);
      if (r.out.length) process.stdout.write(`${r.out.join('\n')}\n`);
      if (r.err.length) process.stderr.write(`${r.err.join('\n')}\n`);
      if (!r.ok) process.exitCode = 1;
    });
}
