/** `pgha list` and `pgha topology`: the members table read from the DCS, optionally refreshed. */
import type { Command } from 'commander';
import { ctlAction, ctlVerb, formatOption, watchInterval, watchOptions } from '../ctl/command.js';
import type { CtlContext } from '../ctl/context.js';
import { formatMembers } from '../ctl/members.js';
import type { OutputFormat } from '../ctl/output.js';
import { timestamp } from '../ctl/time.js';

interface ListOptions {
  extended?: boolean;
  timestamp?: boolean;
  format: OutputFormat;
  W?: boolean;
  watch?: number;
}

async function listClusters(ctx: CtlContext, names: string[], o: ListOptions, fmt: OutputFormat): Promise<void> {
  const clusters = names.length ? names : ctx.scope ? [ctx.scope] : [];
  if (!clusters.length) {
    process.stderr.write('WARNING: Listing members: No cluster names were provided\n');
    return;
  }
  const interval = watchInterval(o);
  // Clear the screen between refreshes only on a terminal, as click.clear() does.
  const clear = () => { if (interval && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H'); };
  for (;;) {
    const started = Date.now();
    const out: string[] = [];
    if (o.timestamp) out.push(timestamp(0));
    for (const name of clusters) out.push(formatMembers(await ctx.cluster(name), name, { extended: o.extended, fmt }));
    clear();
    process.stdout.write(`${out.join('\n')}\n`);
    if (!interval) return;
    await new Promise((r) => setTimeout(r, Math.max(0, interval * 1000 - (Date.now() - started))));
  }
}

export function registerList(program: Command): void {
  watchOptions(ctlVerb(program, 'list', 'List the Patroni members for a given Patroni'))
    .argument('[cluster_names...]', 'clusters to list (default: scope)')
    .option('-e, --extended', 'show some extra information')
    .option('-t, --timestamp', 'print timestamp')
    .addOption(formatOption())
    .action(ctlAction(async (ctx, cmd, names: string[]) => {
      const o = cmd.opts<ListOptions>();
      await listClusters(ctx, names, o, o.format);
    }));

  watchOptions(ctlVerb(program, 'topology', 'Prints ASCII topology for given cluster'))
    .argument('[cluster_names...]', 'clusters to show (default: scope)')
    .action(ctlAction(async (ctx, cmd, names: string[]) => {
      await listClusters(ctx, names, { ...cmd.opts<ListOptions>(), format: 'topology' }, 'topology');
    }));
}
