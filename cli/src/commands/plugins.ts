/**
 * `pgha plugins [-c CONFIG]`: the plugins pgha can see (built-in, discovered `pgha-plugin-*`
 * packages, and the config's `plugins:` entries) with versions and whether they are installed and
 * load. With a configuration, also checks the DCS it names the way the agent would pick it, without
 * connecting: exit status 1 and one line per DCS section when none can be used.
 */
import type { Command } from 'commander';
import { ErrorCodes, PluginHost, isPghaError, readConfig, type PluginRef } from '@pgha/core';

async function status(host: PluginHost, ref: PluginRef): Promise<string> {
  if (!ref.installed) return `not installed (npm i ${ref.source})`;
  try {
    await host.load(ref);
    return 'installed';
  } catch (e) {
    if (isPghaError(e) && e.code === ErrorCodes.PLUGIN_INCOMPATIBLE) return `refused: ${e.message}`;
    return `invalid: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export async function pluginsReport(configFile: string | undefined, opts: { env?: NodeJS.ProcessEnv; searchRoots?: string[] } = {}):
  Promise<{ ok: boolean; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  let config: Record<string, unknown> = {};
  let baseDir: string | undefined;
  if (configFile) {
    try {
      const read = readConfig({ path: configFile, env: opts.env ?? process.env });
      config = read.raw;
      baseDir = read.baseDir;
    } catch (e) {
      return { ok: false, out, err: [e instanceof Error ? e.message : String(e)] };
    }
  }
  const host = new PluginHost({ config, baseDir, searchRoots: opts.searchRoots });
  let refs: PluginRef[];
  try {
    refs = await host.discover();
  } catch (e) {
    return { ok: false, out, err: [e instanceof Error ? e.message : String(e)] };
  }
  const rows = [['KIND', 'NAME', 'PACKAGE', 'VERSION', 'ORIGIN', 'STATUS']];
  for (const ref of refs) rows.push([ref.kind, ref.name, ref.source, ref.version ?? '-', ref.origin, await status(host, ref)]);
  out.push(table(rows));
  if (!configFile) return { ok: true, out, err };

  const check = await host.checkDcs();
  out.push('', `DCS (${configFile}):`);
  for (const s of check.sections) {
    out.push(`  ${s.section}: ${s.ok ? (s.section === check.selected ? 'ok, selected: ' : 'ok: ') : ''}${s.message}`);
  }
  if (check.error) {
    err.push(check.error);
    return { ok: false, out, err };
  }
  return { ok: true, out, err };
}

export function registerPlugins(program: Command): void {
  program
    .command('plugins')
    .description('list plugins (built-in and discovered) and check the DCS a configuration names')
    .option('-c, --config-file <file>', 'configuration whose DCS section to check')
    .action(async function (this: Command) {
      const { configFile } = this.optsWithGlobals<{ configFile?: string }>();
      const r = await pluginsReport(configFile);
      if (r.out.length) process.stdout.write(`${r.out.join('\n')}\n`);
      if (r.err.length) process.stderr.write(`${r.err.join('\n')}\n`);
      if (!r.ok) process.exitCode = 1;
    });
}
