/**
 * `pgha pause` / `pgha resume`: maintenance mode through `PATCH /config {"pause": true|null}` on the
 * first reachable member (leader first); `--wait` polls the member keys until every member that
 * was there publishes the new state.
 */
import type { Command } from 'commander';
import { parseIntLoose, type Cluster, type Dcs } from '@pgha/core';
import { ctlAction, ctlVerb } from '../ctl/command.js';
import type { CtlContext } from '../ctl/context.js';
import { CtlError } from '../ctl/errors.js';
import { dynamicFlags } from '../ctl/members.js';
import { membersLeaderFirst } from '../ctl/select.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntilPauseIsApplied(dcs: Dcs, paused: boolean, old: Cluster): Promise<void> {
  process.stdout.write(`'${paused ? 'pause' : 'resume'}' request sent, waiting until it is recognized by all nodes\n`);
  const before = new Map(old.members.filter((m) => m.apiUrl).map((m) => [m.name, m.version]));
  const loopWait = parseIntLoose(old.config?.data.loop_wait) || dcs.loopWait;
  const deadline = Date.now() + (loopWait + 1) * 1000;
  let cluster: Cluster | null = null;
  for (;;) {
    cluster = await dcs.getCluster().catch(() => cluster);
    const shows = (m: Cluster['members'][number]) => (m.data.pause === true) === paused;
    if (cluster && cluster.members.filter((m) => before.has(m.name)).every(shows)) break;
    if (Date.now() >= deadline) {
      const remaining = (cluster?.members ?? []).filter((m) => !shows(m) && before.has(m.name) && before.get(m.name) !== m.version).map((m) => m.name);
      if (remaining.length) {
        process.stdout.write(`${remaining.join(', ')} members didn't recognized pause state after ${loopWait} seconds\n`);
        process.exitCode = 1;
        return;
      }
      break;
    }
    await sleep(1000);
  }
  process.stdout.write(`Success: cluster management is ${paused ? 'paused' : 'resumed'}\n`);
}

async function togglePause(ctx: CtlContext, clusterName: string, paused: boolean, wait: boolean): Promise<void> {
  const dcs = await ctx.dcs(clusterName);
  const cluster = await ctx.cluster(clusterName);
  if (dynamicFlags(cluster).paused === paused) throw new CtlError(`Cluster is ${paused ? 'already' : 'not'} paused`);
  for (const member of membersLeaderFirst(cluster)) {
    let r;
    try {
      r = await ctx.rest.request(member, 'PATCH', 'config', { pause: paused || null });
    } catch (e) {
      process.stderr.write(`WARNING: ${e instanceof Error ? e.message : String(e)}\nWARNING: Member ${member.name} is not accessible\n`);
      continue;
    }
    if (r.status === 200) {
      if (wait) await waitUntilPauseIsApplied(dcs, paused, cluster);
      else process.stdout.write(`Success: cluster management is ${paused ? 'paused' : 'resumed'}\n`);
    } else {
      process.stdout.write(`Failed: ${paused ? 'pause' : 'resume'} cluster management status code=${r.status}, (${r.text})\n`);
      process.exitCode = 1;
    }
    return;
  }
  throw new CtlError('Can not find accessible cluster member');
}

export function registerPause(program: Command): void {
  for (const [verb, paused, help, waitHelp] of [
    ['pause', true, 'Disable auto failover', 'wait until pause is applied on all nodes'],
    ['resume', false, 'Resume auto failover', 'wait until pause is cleared on all nodes'],
  ] as const) {
    ctlVerb(program, verb, help)
      .argument('[cluster_name]', 'cluster (default: scope)')
      .option('--wait', waitHelp)
      .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
        await togglePause(ctx, ctx.clusterName(clusterArg), paused, !!cmd.opts<{ wait?: boolean }>().wait);
      }));
  }
}
