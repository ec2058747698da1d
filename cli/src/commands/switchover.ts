/**
 * `pgha switchover` and `pgha failover`: validate against the DCS view, confirm, then POST
 * /switchover or /failover to the leader (the candidate when there is none). When no member's REST
 * API answers, write `/failover` into the DCS directly, as patronictl does.
 */
import { Option, type Command } from 'commander';
import { parseZonedTime, type Member } from '@pgha/core';
import { ctlAction, ctlVerb, forceOption } from '../ctl/command.js';
import type { CtlContext } from '../ctl/context.js';
import { CtlError } from '../ctl/errors.js';
import { dynamicFlags, formatMembers } from '../ctl/members.js';
import { confirm, prompt } from '../ctl/prompt.js';
import { nextHourExample, parseScheduled, timestamp } from '../ctl/time.js';

type Action = 'switchover' | 'failover';

interface Request {
  candidate?: string;
  force: boolean;
  leader?: string;
  scheduled?: string;
}

const say = (s: string) => process.stdout.write(`${s}\n`);

async function failoverOrSwitchover(ctx: CtlContext, action: Action, clusterName: string, req: Request): Promise<void> {
  const dcs = await ctx.dcs(clusterName);
  let cluster = await ctx.cluster(clusterName);
  say('Current cluster topology');
  say(formatMembers(cluster, clusterName));
  const flags = dynamicFlags(cluster);
  const clusterLeader = cluster.leaderName;
  let { candidate, leader } = req;

  if (action === 'switchover') {
    if (!clusterLeader) throw new CtlError('This cluster has no leader');
    if (leader === undefined) {
      leader = req.force ? clusterLeader : await prompt(flags.standbyCluster ? 'Standby Leader' : 'Primary', { default: clusterLeader });
    }
    if (leader !== clusterLeader) throw new CtlError(`Member ${leader} is not the leader of cluster ${clusterName}`);
  }

  const candidates = cluster.members.filter((m) => m.name !== clusterLeader && !m.nofailover).map((m) => m.name).sort();
  if (!candidates.length) throw new CtlError(`No candidates found to ${action} to`);
  if (candidate === undefined && !req.force) {
    candidate = await prompt(`Candidate [${candidates.map((c) => `'${c}'`).join(', ')}]`, { default: '' });
  }
  if (action === 'failover' && !candidate) throw new CtlError('Failover could be performed only to a specific candidate');
  if (candidate && !candidates.includes(candidate)) {
    if (candidate === clusterLeader) throw new CtlError(`Member ${candidate} is already the leader of cluster ${clusterName}`);
    throw new CtlError(`Member ${candidate} does not exist in cluster ${clusterName} or is tagged as nofailover`);
  }
  if (!req.force && action === 'failover' && flags.synchronousMode && !cluster.sync.isEmpty && !cluster.sync.matches(candidate, true) &&
    !(await confirm(`Are you sure you want to failover to the asynchronous node ${candidate}?`))) {
    throw new CtlError(`Aborting ${action}`);
  }

  let scheduledAt: string | null = null;
  if (action === 'switchover') {
    let scheduled = req.scheduled;
    if (scheduled === undefined && !req.force) {
      scheduled = await prompt(`When should the switchover take place (e.g. ${nextHourExample()} ) `, { default: 'now' });
    }
    scheduledAt = parseScheduled(scheduled);
    if (scheduledAt && flags.paused) throw new CtlError("Can't schedule switchover in the paused state");
  }

  const body: Record<string, string> = {};
  if (candidate) body.candidate = candidate;
  if (action === 'switchover' && leader) body.leader = leader;
  if (scheduledAt) body.scheduled_at = scheduledAt;

  if (!req.force) {
    const demote = clusterLeader ? `, demoting current leader ${clusterLeader}` : '';
    if (scheduledAt) {
      if (!(await confirm(`Are you sure you want to schedule switchover of cluster ${clusterName} at ${scheduledAt}${demote}?`))) {
        throw new CtlError(`Aborting scheduled ${action}`);
      }
    } else if (!(await confirm(`Are you sure you want to ${action} cluster ${clusterName}${demote}?`))) {
      throw new CtlError(`Aborting ${action}`);
    }
  }

  const target: Member | null = cluster.leader ? cluster.leader.member : candidate ? (cluster.members.find((m) => m.name === candidate) ?? null) : null;
  try {
    if (!target) throw new Error('no member to send the request to');
    // The agent polls the DCS for the outcome (about 2 x max(10, loop_wait) s) before answering.
    const r = await ctx.rest.request(target, 'POST', action, body, 120_000);
    if (r.status === 200 || r.status === 202) {
      cluster = await ctx.cluster(clusterName);
      say(`${timestamp()} ${r.text}`);
    } else {
      const result = r.text.toLowerCase().includes('status unknown') ? 'result unknown' : 'failed';
      say(`${action[0]!.toUpperCase()}${action.slice(1)} ${result}, details: ${r.status}, ${r.text}`);
      process.exitCode = 1;
      return;
    }
  } catch (e) {
    process.stderr.write(`WARNING: ${e instanceof Error ? e.message : String(e)}\nWARNING: Failing over to DCS\n`);
    say(`${timestamp()} Could not ${action} using Patroni api, falling back to DCS`);
    const at = scheduledAt ? parseZonedTime(scheduledAt) : null;
    await dcs.manualFailover(action === 'switchover' ? leader ?? null : null, candidate ?? null, at);
  }
  say(formatMembers(cluster, clusterName));
}

interface CliOptions { leader?: string; primary?: string; master?: string; candidate?: string; scheduled?: string; force?: boolean }

const leaderOf = (o: CliOptions) => o.leader ?? o.primary ?? o.master;

export function registerSwitchover(program: Command): void {
  ctlVerb(program, 'switchover', 'Switchover to a replica')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .option('--leader <name>', 'the name of the current leader')
    .option('--primary <name>', 'the name of the current leader (same as --leader)')
    .addOption(new Option('--master <name>', 'the name of the current leader (Patroni 3.x spelling)').hideHelp())
    .option('--candidate <name>', 'the name of the candidate')
    .option('--scheduled <time>', 'timestamp of a scheduled switchover in unambiguous format (e.g. ISO 8601), or now')
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<CliOptions>();
      await failoverOrSwitchover(ctx, 'switchover', ctx.clusterName(clusterArg), {
        candidate: o.candidate, force: !!o.force, leader: leaderOf(o), scheduled: o.scheduled,
      });
    }));

  ctlVerb(program, 'failover', 'Failover to a replica')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .option('--candidate <name>', 'the name of the candidate')
    // Patroni 3.x accepted a leader here and then performed a switchover; kept for old scripts.
    .addOption(new Option('--leader <name>').hideHelp())
    .addOption(new Option('--primary <name>').hideHelp())
    .addOption(new Option('--master <name>').hideHelp())
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<CliOptions>();
      const leader = leaderOf(o);
      if (leader) {
        say('Supplying a leader name using this command is deprecated and will be removed in a future version of Patroni, change your scripts to use `switchover` instead.\nExecuting switchover!');
      }
      await failoverOrSwitchover(ctx, leader ? 'switchover' : 'failover', ctx.clusterName(clusterArg), {
        candidate: o.candidate, force: !!o.force, leader,
      });
    }));
}
