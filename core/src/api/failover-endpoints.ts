/**
 * Manual failover and switchover (reference §2.6, §4.2): POST `/switchover`, POST `/failover`,
 * DELETE `/switchover`. Validation messages and their order are Patroni's, because patronictl and
 * operators' scripts match on them.
 */
import type { Cluster } from '../model/cluster.js';
import type { ZonedTime } from '../model/timestamp.js';
import { sleep } from '../util/clock.js';
import { HttpError, errorReply, readJsonObject, textReply } from './http-util.js';
import { parseSchedule } from './parsing.js';
import { globalView } from './status.js';
import type { ApiContext, Reply } from './types.js';

type Action = 'switchover' | 'failover';

function optionalName(body: Record<string, unknown>, key: string): string | null {
  const v = body[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new HttpError(400, `"${key}" must be a string`);
  return v;
}

/** Static checks, then the agent's look at its peers. Returns the 412 reason, or null. */
async function failoverImpossibleReason(ctx: ApiContext, cluster: Cluster, leader: string | null, candidate: string | null, action: Action): Promise<string | null> {
  const view = globalView(ctx.backend, cluster);
  const strictSync = view.synchronousMode && !view.quorumMode;
  if (leader && cluster.leaderName !== leader) return 'leader name does not match';
  if (candidate) {
    if (action === 'switchover' && strictSync && !cluster.sync.matches(candidate)) return 'candidate name does not match with sync_standby';
    if (!cluster.members.some((m) => m.name === candidate)) return 'candidate does not exists';
  } else if (strictSync) {
    if (!cluster.members.some((m) => cluster.sync.matches(m.name))) return `${action} is not possible: can not find sync_standby`;
  } else if (!cluster.members.some((m) => !cluster.leader || (m.name !== cluster.leaderName && m.apiUrl))) {
    return `${action} is not possible: cluster does not have members except leader`;
  }
  const possible = await ctx.backend.failoverPossible(cluster, candidate);
  return possible.ok ? null : `${action} is not possible: ${possible.reason || 'no good candidates have been found'}`;
}

/** Wait for the leader key to move away from `oldLeader`; Patroni's poll_failover_result. */
async function pollFailoverResult(ctx: ApiContext, oldLeader: string | null, candidate: string | null, action: Action): Promise<Reply> {
  const { dcs, settings } = ctx.backend;
  const { clock, failoverPollIntervalMs } = ctx.options;
  const timeoutMs = ctx.options.failoverPollTimeoutMs ?? Math.max(10, settings.loopWait) * 2 * 1000;
  const verb = action === 'switchover' ? 'switch' : 'fail';
  const title = action === 'switchover' ? 'Switchover' : 'Failover';
  const deadline = clock.monotonic() + timeoutMs;
  while (clock.monotonic() < deadline) {
    await sleep(failoverPollIntervalMs);
    try {
      const cluster = await dcs.getCluster();
      const now = cluster.leaderName;
      if (now && now !== oldLeader) {
        if (!candidate || candidate === now) return textReply(200, `Successfully ${verb}ed over to "${now}"`);
        return textReply(200, `${verb[0]!.toUpperCase()}${verb.slice(1)}ed over to "${now}" instead of "${candidate}"`);
      }
      if (!cluster.failover?.size) return textReply(503, `${title} failed`);
    } catch (e) {
      ctx.logger.debug({ err: e }, `Exception occurred during polling ${action} result`);
    }
  }
  return textReply(503, `${title} status unknown`);
}

async function manualFailover(ctx: ApiContext, requested: Action): Promise<Reply> {
  const body = await readJsonObject(ctx.req, { optional: false, maxBytes: ctx.options.maxBodyBytes });
  const leader = optionalName(body, 'leader');
  const candidate = optionalName(body, 'candidate') ?? optionalName(body, 'member');
  const rawSchedule = body.scheduled_at ?? null;
  if (rawSchedule !== null && typeof rawSchedule !== 'string') throw new HttpError(400, '"scheduled_at" must be a string');
  const { backend } = ctx;
  const cluster = await backend.dcs.getCluster();
  const { paused } = globalView(backend, cluster);
  ctx.logger.info(`received ${requested} request with leader=${leader} candidate=${candidate} scheduled_at=${rawSchedule}`);

  let action: Action = requested;
  let status = 400;
  let error: string | null = null;
  let scheduledAt: ZonedTime | null = null;
  if (action === 'failover' && !candidate) error = 'Failover could be performed only to a specific candidate';
  else if (action === 'switchover' && !leader) error = 'Switchover could be performed only from a specific leader';

  if (!error && rawSchedule) {
    if (action === 'failover') error = "Failover can't be scheduled";
    else if (paused) error = "Can't schedule switchover in the paused state";
    else {
      const s = parseSchedule(rawSchedule, action, ctx.options.clock.now());
      if (s.ok) scheduledAt = s.at;
      else [status, error] = [s.status, s.error];
    }
  }
  if (!error && paused && !candidate) error = 'Switchover is possible only to a specific candidate in a paused state';
  if (action === 'failover' && leader) {
    ctx.logger.warn('received failover request with leader specified - performing switchover instead');
    action = 'switchover';
  }
  if (!error && leader === candidate) error = 'Switchover target and source are the same';
  if (!error && !scheduledAt) {
    error = await failoverImpossibleReason(ctx, cluster, leader, candidate, action);
    if (error) status = 412;
  }
  if (error) return textReply(status, error);

  if (!(await backend.dcs.manualFailover(leader, candidate, scheduledAt))) {
    return textReply(503, 'failed to write failover key into DCS');
  }
  backend.wakeup();
  if (scheduledAt) return textReply(202, `${action === 'switchover' ? 'Switchover' : 'Failover'} scheduled`);
  return pollFailoverResult(ctx, cluster.leaderName, candidate, action);
}

export const postSwitchover = (ctx: ApiContext) => manualFailover(ctx, 'switchover');
export const postFailover = (ctx: ApiContext) => manualFailover(ctx, 'failover');

export async function deleteSwitchover(ctx: ApiContext): Promise<Reply> {
  const { dcs } = ctx.backend;
  const failover = (await dcs.getCluster()).failover;
  // A request the agents ignore because its schedule is unreadable can be removed here too.
  if (!failover || (!failover.malformed && (!failover.size || !failover.scheduledAt))) return textReply(404, 'no switchover is scheduled');
  if (!(await dcs.manualFailover(null, null, null, failover.version))) return errorReply(409, 'the switchover was changed concurrently');
  return textReply(200, 'scheduled switchover deleted');
}
