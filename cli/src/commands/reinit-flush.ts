/**
 * `pgha reinit` (POST /reinitialize on replicas, `--wait` until they run again) and `pgha flush`
 * (discard a scheduled restart or switchover).
 */
import type { Command } from 'commander';
import type { Member } from '@pgha/core';
import { ctlAction, ctlVerb, forceOption, roleOption } from '../ctl/command.js';
import type { CtlContext } from '../ctl/context.js';
import { confirm } from '../ctl/prompt.js';
import { jsonBody, type RestResponse } from '../ctl/rest.js';
import { membersLeaderFirst, selectMembers, type CtlRole } from '../ctl/select.js';
import { timestamp } from '../ctl/time.js';

const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** patronictl's check_response: `Failed: <action> for member X, status code=N, (text)` or `Success: ...`. */
function checkResponse(r: RestResponse, member: string, action: string, silentSuccess = false): boolean {
  if (r.status >= 400 || r.status === 0) {
    say(`Failed: ${action} for member ${member}, status code=${r.status}, (${r.text})`);
    process.exitCode = 1;
    return false;
  }
  if (!silentSuccess) say(`Success: ${action} for member ${member}`);
  return true;
}

async function request(ctx: CtlContext, m: Member, method: string, endpoint: string, body?: unknown): Promise<RestResponse> {
  try {
    return await ctx.rest.request(m, method, endpoint, body);
  } catch (e) {
    return { status: 0, text: e instanceof Error ? e.message : String(e) };
  }
}

/** GET /patroni's state and postmaster start time; nulls when the member doesn't answer. */
async function pgState(ctx: CtlContext, m: Member): Promise<{ state: string | null; started: unknown }> {
  const doc = jsonBody(await request(ctx, m, 'GET', 'patroni'));
  return { state: typeof doc?.state === 'string' ? doc.state : null, started: doc?.postmaster_start_time ?? null };
}

/**
 * Done when PostgreSQL runs again after the rebuild: state `running` and either a new postmaster or
 * a non-running state seen since the request (right after it the old instance may still answer).
 */
async function waitForReinit(ctx: CtlContext, members: Member[], before: Map<string, unknown>): Promise<void> {
  const pending = [...members];
  const sawOther = new Set<string>();
  let shown = '';
  while (pending.length) {
    const names = pending.map((m) => m.name).join(', ');
    if (names !== shown) say(`Waiting for reinitialize to complete on: ${names}`);
    shown = names;
    await sleep(2000);
    for (const m of [...pending]) {
      const st = await pgState(ctx, m);
      if (st.state !== 'running') {
        sawOther.add(m.name);
        continue;
      }
      if (sawOther.has(m.name) || (st.started !== null && st.started !== before.get(m.name))) {
        say(`Reinitialize is completed on: ${m.name}`);
        pending.splice(pending.indexOf(m), 1);
      }
    }
  }
}

export function registerReinitFlush(program: Command): void {
  ctlVerb(program, 'reinit', 'Reinitialize cluster member')
    .argument('<cluster_name>', 'cluster')
    .argument('[member_names...]', 'replicas to reinitialize')
    .addOption(forceOption())
    .option('--from-leader', 'get basebackup from leader')
    .option('--wait', 'wait until reinitialization completes')
    .action(ctlAction(async (ctx, cmd, name: string, names: string[]) => {
      const o = cmd.opts<{ force?: boolean; fromLeader?: boolean; wait?: boolean }>();
      const force = !!o.force;
      const members = await selectMembers(await ctx.cluster(name), name, names, 'replica', force, 'reinitialize');
      const waitOn: Member[] = [];
      const before = new Map<string, unknown>();
      for (const m of members) {
        if (o.wait) before.set(m.name, (await pgState(ctx, m)).started);
        const body = { force, from_leader: !!o.fromLeader };
        for (;;) {
          const r = await request(ctx, m, 'POST', 'reinitialize', body);
          const started = checkResponse(r, m.name, 'reinitialize');
          if (!started && r.text.endsWith(' already in progress') && !body.force && (await confirm('Do you want to cancel it and reinitialize anyway?'))) {
            body.force = true;
            process.exitCode = undefined;
            continue;
          }
          if (started && o.wait) waitOn.push(m);
          break;
        }
      }
      await waitForReinit(ctx, waitOn, before);
    }));

  ctlVerb(program, 'flush', 'Discard scheduled events')
    .argument('<cluster_name>', 'cluster')
    .argument('<target...>', 'members (default: all with the role), then what to discard: restart or switchover')
    .usage('[options] <cluster_name> [member_names...] {restart|switchover}')
    .addOption(roleOption('flush only members with this role', 'any'))
    .addOption(forceOption())
    .action(ctlAction(async (ctx, cmd, name: string, rest: string[]) => {
      const target = rest[rest.length - 1]!;
      const names = rest.slice(0, -1);
      if (target !== 'restart' && target !== 'switchover') {
        cmd.error(`error: invalid value for target: '${target}' is not one of 'restart', 'switchover'`, { exitCode: 2, code: 'commander.invalidArgument' });
      }
      const o = cmd.opts<{ role: CtlRole; force?: boolean }>();
      const cluster = await ctx.cluster(name);
      if (target === 'restart') {
        for (const m of await selectMembers(cluster, name, names, o.role, !!o.force, 'flush')) {
          if (m.data.scheduled_restart) checkResponse(await request(ctx, m, 'DELETE', 'restart'), m.name, 'flush scheduled restart');
          else say(`No scheduled restart for member ${m.name}`);
        }
        return;
      }
      const failover = cluster.failover;
      if (!failover?.scheduledAt) {
        say('No pending scheduled switchover');
        return;
      }
      for (const m of membersLeaderFirst(cluster)) {
        const r = await request(ctx, m, 'DELETE', 'switchover');
        if (r.status === 200 || r.status === 404) {
          if (r.status === 404) process.exitCode = 1;
          say(`${r.status === 200 ? 'Success' : 'Failed'}: ${r.text}`);
          return;
        }
        if (r.status === 0) process.stderr.write(`WARNING: ${r.text}\nWARNING: Member ${m.name} is not accessible\n`);
        else say(`Failed: member=${m.name}, status_code=${r.status}, (${r.text})`);
      }
      say(`${timestamp()} Could not find any accessible member of cluster ${name}`);
      await (await ctx.dcs(name)).manualFailover('', '', null, failover.version);
    }));
}
