/**
 * `pgha edit-config` (change `/config` with a compare-and-swap on its version, after showing the
 * diff) and `pgha show-config`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { compactJson, deepEqual } from '@pgha/core';
import { ctlAction, ctlVerb, forceOption } from '../ctl/command.js';
import {
  applyConfigChanges, applyYaml, formatConfigForEditing, parseConfigYaml, pgPairs, unifiedDiff,
} from '../ctl/config-edit.js';
import { CtlError } from '../ctl/errors.js';
import { confirm } from '../ctl/prompt.js';

interface EditOptions {
  quiet?: boolean;
  set?: string[];
  pg?: string[];
  apply?: string;
  replace?: string;
  force?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

function readYamlFile(file: string): Record<string, unknown> {
  return parseConfigYaml(readFileSync(file === '-' ? 0 : file, 'utf8'), file === '-' ? 'stdin' : file);
}

/** Patroni's invoke_editor: $EDITOR, else `editor`, else `vi`, on a temporary YAML file. */
function invokeEditor(before: string, clusterName: string): { text: string; data: Record<string, unknown> } {
  const editor = process.env.EDITOR || ['editor', 'vi'].find((e) => spawnSync('sh', ['-c', `command -v ${e}`]).status === 0);
  if (!editor) throw new CtlError('EDITOR environment variable is not set. editor or vi are not available');
  const dir = mkdtempSync(join(tmpdir(), `${clusterName.replace(/\//g, '_')}-config-`));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, before);
    // Through sh so EDITOR may carry arguments ("code -w"); the file is passed as $1, unquoted nowhere.
    const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    if (r.status !== 0) throw new CtlError(`Editor exited with return code ${r.status ?? r.signal}`);
    const text = readFileSync(file, 'utf8');
    return { text, data: parseConfigYaml(text, 'edited configuration') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerEditConfig(program: Command): void {
  ctlVerb(program, 'edit-config', 'Edit cluster configuration')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .option('-q, --quiet', 'do not show changes')
    .option('-s, --set <key=value>', 'set specific configuration value (dotted path, YAML value, null deletes); repeatable', collect)
    .option('-p, --pg <guc=value>', 'set specific PostgreSQL parameter value, shorthand for -s postgresql.parameters.<guc>; repeatable', collect)
    .option('--apply <file>', 'apply configuration from file (merge); use - for stdin')
    .option('--replace <file>', 'apply configuration from file, replacing existing configuration; use - for stdin')
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<EditOptions>();
      const name = ctx.clusterName(clusterArg);
      const dcs = await ctx.dcs(name);
      const cluster = await ctx.cluster(name);
      if (!cluster.config) throw new CtlError(`The config key does not exist in the cluster ${name}`);
      const before = formatConfigForEditing(cluster.config.data);
      let after: string | null = null;
      let changed = cluster.config.data;
      if (o.replace) {
        changed = readYamlFile(o.replace);
        after = formatConfigForEditing(changed);
      }
      if (o.apply) {
        changed = applyYaml(changed, readYamlFile(o.apply));
        after = formatConfigForEditing(changed);
      }
      if (o.set?.length || o.pg?.length) {
        changed = applyConfigChanges(changed, [...(o.set ?? []), ...pgPairs(o.pg ?? [])]);
        after = formatConfigForEditing(changed);
      }
      if (after === null) {
        // Nothing on the command line: an editor, when there is someone to use it (or EDITOR is set).
        if (!process.stdin.isTTY && !process.env.EDITOR) {
          throw new CtlError('Nothing to change: give -s/-p/--apply/--replace, or run on a terminal (or set EDITOR) to edit');
        }
        ({ text: after, data: changed } = invokeEditor(before, name));
      }
      if (deepEqual(cluster.config.data, changed)) {
        if (!o.quiet) process.stdout.write('Not changed\n');
        return;
      }
      if (!o.quiet) process.stdout.write(`${unifiedDiff(before, after)}\n`);
      if ((o.apply === '-' || o.replace === '-') && !o.force) {
        process.stdout.write('Use --force option to apply changes\n');
        return;
      }
      if (o.force || (await confirm('Apply these changes?'))) {
        try {
          if (!(await dcs.setConfigValue(compactJson(changed), cluster.config.version))) {
            throw new CtlError('Config modification aborted due to concurrent changes');
          }
        } catch (e) {
          throw e instanceof CtlError ? e : new CtlError(e instanceof Error ? e.message : String(e));
        }
        process.stdout.write('Configuration changed\n');
      }
    }));

  ctlVerb(program, 'show-config', 'Show cluster configuration')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .action(ctlAction(async (ctx, _cmd, clusterArg: string | undefined) => {
      const cluster = await ctx.cluster(ctx.clusterName(clusterArg));
      if (cluster.config) process.stdout.write(formatConfigForEditing(cluster.config.data));
    }));
}
