/** `pgha restart` and `pgha reload`: POST /restart or /reload on the chosen members. */
import type { Command } from 'commander';
import { parseIntLoose, postgresVersionToInt } from '@pgha/core';
import { ctlAction, ctlVerb, forceOption, roleOption } from '../ctl/command.js';
import { CtlError } from '../ctl/errors.js';
import { dynamicFlags } from '../ctl/members.js';
import { prompt } from '../ctl/prompt.js';
import type { RestResponse } from '../ctl/rest.js';
import { confirmMembersAction, selectMembers, type CtlRole } from '../ctl/select.js';
import { nextHourExample, parseScheduled } from '../ctl/time.js';

const say = (s: string) => process.stdout.write(`${s}\n`);

/** Run one REST call; a member that can't be reached is reported like a failed call. */
async function call(fn: () => Promise<RestResponse>): Promise<RestResponse> {
  try {
    return await fn();
  } catch (e) {
    return { status: 0, text: e instanceof Error ? e.message : String(e) };
  }
}

interface RestartOptions {
  role: CtlRole;
  any?: boolean;
  scheduled?: string;
  pgVersion?: string;
  pending?: boolean;
  timeout?: string;
  force?: boolean;
}

export function registerRestart(program: Command): void {
  ctlVerb(program, 'restart', 'Restart cluster member')
    .argument('<cluster_name>', 'cluster')
    .argument('[member_names...]', 'members to restart (default: all with the role)')
    .addOption(roleOption('restart only members with this role', 'any'))
    .option('--any', 'restart a single member only')
    .option('--scheduled <time>', 'timestamp of a scheduled restart in unambiguous format (e.g. ISO 8601), or now')
    .option('--pg-version <version>', 'restart if the PostgreSQL version is less than provided (e.g. 9.5.2)')
    .option('--pending', 'restart if pending')
    .option('--timeout <seconds>', 'return error and fail over if necessary when restarting takes longer than this')
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, name: string, names: string[]) => {
      const o = cmd.opts<RestartOptions>();
      const force = !!o.force;
      const cluster = await ctx.cluster(name);
      let members = await selectMembers(cluster, name, names, o.role, force, 'restart', false);
      let scheduled = o.scheduled;
      if (scheduled === undefined && !force) {
        scheduled = await prompt(`When should the restart take place (e.g. ${nextHourExample()}) `, { default: 'now' });
      }
      const scheduledAt = parseScheduled(scheduled);
      const content: Record<string, unknown> = {};
      if (o.pending) {
        content.restart_pending = true;
        // A scheduled restart decides at its time who needs it; an immediate one filters now.
        if (!scheduledAt) members = members.filter((m) => m.data.pending_restart);
      }
      if (o.any) members = members.sort(() => Math.random() - 0.5).slice(0, 1);
      await confirmMembersAction(members, force, 'restart', scheduledAt, o.pending);
      let version = o.pgVersion;
      if (version === undefined && !force) {
        version = await prompt('Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ', { default: '' });
      }
      if (version) {
        try {
          postgresVersionToInt(version);
        } catch (e) {
          throw new CtlError(e instanceof Error ? e.message : String(e));
        }
        content.postgres_version = version;
      }
      if (scheduledAt) {
        if (dynamicFlags(cluster).paused) throw new CtlError("Can't schedule restart in the paused state");
        content.schedule = scheduledAt;
      }
      if (o.timeout !== undefined) content.timeout = o.timeout;
      for (const m of members) {
        if ('schedule' in content && force && m.data.scheduled_restart) {
          const r = await call(() => ctx.rest.request(m, 'DELETE', 'restart'));
          if (r.status >= 400 || r.status === 0) say(`Failed: flush scheduled restart for member ${m.name}, status code=${r.status}, (${r.text})`);
        }
        // An immediate restart answers when PostgreSQL is up again: no client-side deadline.
        const r = await call(() => ctx.rest.request(m, 'POST', 'restart', content, 0));
        if (r.status === 200) say(`Success: restart on member ${m.name}`);
        else if (r.status === 202) say(`Success: restart scheduled on member ${m.name}`);
        else {
          say(r.status === 409 ? `Failed: another restart is already scheduled on member ${m.name}`
            : `Failed: restart for member ${m.name}, status code=${r.status}, (${r.text})`);
          process.exitCode = 1;
        }
      }
    }));

  ctlVerb(program, 'reload', 'Reload cluster member configuration')
    .argument('<cluster_name>', 'cluster')
    .argument('[member_names...]', 'members to reload (default: all with the role)')
    .addOption(roleOption('reload only members with this role', 'any'))
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, name: string, names: string[]) => {
      const o = cmd.opts<{ role: CtlRole; force?: boolean }>();
      const dcs = await ctx.dcs(name);
      const cluster = await ctx.cluster(name);
      const members = await selectMembers(cluster, name, names, o.role, !!o.force, 'reload');
      const loopWait = parseIntLoose(cluster.config?.data.loop_wait) || dcs.loopWait;
      for (const m of members) {
        const r = await call(() => ctx.rest.request(m, 'POST', 'reload'));
        if (r.status === 200) say(`No changes to apply on member ${m.name}`);
        else if (r.status === 202) say(`Reload request received for member ${m.name} and will be processed within ${loopWait} seconds`);
        else {
          say(`Failed: reload for member ${m.name}, status code=${r.status}, (${r.text})`);
          process.exitCode = 1;
        }
      }
    }));
}
