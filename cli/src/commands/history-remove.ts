/**
 * `pgha history` (the `/history` key as a table) and `pgha remove` (delete every key of a cluster
 * from the DCS after patronictl's typed confirmations).
 */
import type { Command } from 'commander';
import { ctlAction, ctlVerb, formatOption } from '../ctl/command.js';
import { CtlError } from '../ctl/errors.js';
import { formatMembers } from '../ctl/members.js';
import { formatOutput, type Cell, type OutputFormat } from '../ctl/output.js';
import { prompt } from '../ctl/prompt.js';

const HISTORY_COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];

export function registerHistoryRemove(program: Command): void {
  ctlVerb(program, 'history', 'Show the history of failovers/switchovers')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .addOption(formatOption())
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const { format } = cmd.opts<{ format: OutputFormat }>();
      const cluster = await ctx.cluster(ctx.clusterName(clusterArg));
      // Old entries have fewer fields (no timestamp, no new leader): pad them with ''.
      const rows: Cell[][] = (cluster.history?.lines ?? []).map((l) => [...l, ...Array<Cell>(Math.max(0, HISTORY_COLUMNS.length - l.length)).fill('')]);
      process.stdout.write(`${formatOutput(HISTORY_COLUMNS, rows, { fmt: format, align: { TL: 'r', LSN: 'r' } })}\n`);
    }));

  ctlVerb(program, 'remove', 'Remove cluster from DCS')
    .argument('<cluster_name>', 'cluster to remove')
    .addOption(formatOption())
    .action(ctlAction(async (ctx, cmd, name: string) => {
      const { format } = cmd.opts<{ format: OutputFormat }>();
      const dcs = await ctx.dcs(name);
      const cluster = await ctx.cluster(name);
      process.stdout.write(`${formatMembers(cluster, name, { fmt: format })}\n`);
      if ((await prompt('Please confirm the cluster name to remove')) !== name) {
        throw new CtlError('Cluster names specified do not match');
      }
      const message = 'Yes I am aware';
      if ((await prompt(`You are about to remove all information in DCS for ${name}, please type: "${message}"`)) !== message) {
        throw new CtlError(`You did not exactly type "${message}"`);
      }
      if (cluster.leaderName && (await prompt('This cluster currently is healthy. Please specify the leader name to continue')) !== cluster.leaderName) {
        throw new CtlError('You did not specify the current leader of the cluster');
      }
      try {
        await dcs.deleteCluster();
      } catch (e) {
        throw new CtlError(e instanceof Error ? e.message : String(e));
      }
    }));
}
