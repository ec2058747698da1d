/**
 * `pgha demote-cluster` and `pgha promote-cluster` (patronictl 4.1): turn a cluster into a standby
 * cluster of another one and back, for a data-center switchover. Both only PATCH `standby_cluster`
 * in the dynamic configuration through the leader's REST API, as patronictl does; the agents do
 * the rest (the leader becomes a standby leader following the remote, or promotes). Then the
 * leader key is watched every second until the leader runs in the target role.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Cluster } from '@pgha/core';
import { ctlAction, ctlVerb, forceOption } from '../ctl/command.js';
import type { CtlContext } from '../ctl/context.js';
import { CtlError } from '../ctl/errors.js';
import { formatMembers } from '../ctl/members.js';
import { confirm } from '../ctl/prompt.js';
import { timestamp } from '../ctl/time.js';

const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const py = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v ?? 'None'));

/** Patroni's change_cluster_role: `standby` null promotes, a section demotes. */
export async function changeClusterRole(ctx: CtlContext, clusterName: string, force: boolean, standby: Record<string, unknown> | null): Promise<void> {
  const demote = standby !== null;
  const action = demote ? 'demot' : 'promot';
  const targetRole = demote ? 'standby_leader' : 'primary';
  const dcs = await ctx.dcs(clusterName);
  let cluster: Cluster = await ctx.cluster(clusterName);
  const leaderName = cluster.leaderName;
  if (!leaderName || !cluster.leader) throw new CtlError(`Cluster has no leader, ${action}ion is not possible`);
  if (cluster.leader.data.role === targetRole) throw new CtlError('Cluster is already in the required state');

  say('Current cluster topology');
  say(formatMembers(cluster, clusterName));
  if (!force && !(await confirm(`Are you sure you want to ${action}e ${clusterName} cluster?`))) {
    throw new CtlError(`Aborted cluster ${action}ion`);
  }

  let r;
  try {
    r = await ctx.rest.request(cluster.leader.member, 'PATCH', 'config', { standby_cluster: standby });
  } catch (e) {
    throw new CtlError(`Failed to ${action}e ${clusterName} cluster: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (r.status !== 200) throw new CtlError(`Failed to ${action}e ${clusterName} cluster: /config PATCH status code=${r.status}, (${r.text})`);

  for (;;) {
    cluster = await dcs.getCluster().catch(() => cluster);
    const unlocked = cluster.isUnlocked();
    const role = cluster.leader ? cluster.leader.data.role ?? null : null;
    const state = cluster.leader ? cluster.leader.data.state ?? null : null;
    const old = cluster.members.find((m) => m.name === leaderName);
    const oldState = old ? old.data.state ?? null : null;
    const now = timestamp(0);
    if (!unlocked && role === targetRole && state === 'running' && (!demote || oldState === 'running')) {
      say(`${now} cluster is successfully ${action}ed`);
      break;
    }
    const parts = [`${now} cluster is unlocked: ${unlocked ? 'True' : 'False'}`, `leader role: ${py(role)}`, `leader state: ${py(state)}`];
    if (demote && cluster.leader && cluster.leader.name !== leaderName && oldState) parts.push(`previous leader state: ${py(oldState)}`);
    say(parts.join(', '));
    await sleep(1000);
  }
  say(formatMembers(cluster, clusterName));
}

const port = (v: string): number => {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`'${v}' is not a valid integer.`);
  return Number(v);
};

export function registerClusterRole(program: Command): void {
  ctlVerb(program, 'demote-cluster', 'Demote cluster to a standby cluster')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .addOption(forceOption())
    .option('--host <host>', 'Address of the remote node')
    .option('--port <port>', 'Port of the remote node', port)
    .option('--restore-command <command>', 'Command to restore WAL records from the remote primary')
    .option('--primary-slot-name <name>', 'Name of the slot on the remote node to use for replication')
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<{ force?: boolean; host?: string; port?: number; restoreCommand?: string; primarySlotName?: string }>();
      if (!o.host && !o.port && !o.restoreCommand) throw new CtlError('At least --host, --port or --restore-command should be specified');
      const data: Record<string, unknown> = {};
      if (o.host) data.host = o.host;
      if (o.port) data.port = o.port;
      if (o.primarySlotName) data.primary_slot_name = o.primarySlotName;
      if (o.restoreCommand) data.restore_command = o.restoreCommand;
      await changeClusterRole(ctx, ctx.clusterName(clusterArg), !!o.force, data);
    }));

  ctlVerb(program, 'promote-cluster', 'Promote cluster, make it run standalone')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      await changeClusterRole(ctx, ctx.clusterName(clusterArg), !!cmd.opts<{ force?: boolean }>().force, null);
    }));
}
