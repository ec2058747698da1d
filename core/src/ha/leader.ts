/**
 * Decisions while the cluster has a leader key: the lock holder refreshes it and serves manual
 * failovers; everybody else follows. Also the unlocked-cluster race.
 */
import type { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { isFailoverPossible, isHealthiestNode } from './health.js';
import { dcsUnavailablePlan } from './failsafe.js';
import { enforceFollowRemote, standbyHealthyCluster, standbyRaceWon, standbyUnlockedFollow } from './standby.js';
import { plan, type Action, type HaInput, type Plan } from './types.js';

const isPrimary = (input: HaInput) => input.pg.running && input.pg.inRecovery === false;

/** The member to stream from: none with `nostream`; the `replicatefrom` member if it exists; else the leader. */
export function nodeToFollow(input: HaInput, cluster: Cluster): string | null {
  if (input.tags.nostream) return null;
  let node: string | null = cluster.leaderName;
  const rf = input.tags.replicatefrom;
  if (rf && cluster.getMember(rf, false) instanceof Member) node = rf;
  return node && node !== input.name ? node : null;
}

/** Does `/history` lag behind my timeline after a promotion? */
export function historyNeedsUpdate(input: HaInput, cluster: Cluster): boolean {
  const tl = input.pg.timeline;
  if (!tl) return false;
  const lines = cluster.history?.lines ?? [];
  if (tl === 1) return lines.length > 0;
  const last = lines[lines.length - 1];
  return !last || Number(last[0]) !== tl - 1 || last.length !== 5;
}

/** I hold the lock: make sure PostgreSQL is a primary (promote if needed), keep /history current. */
export function enforcePrimaryRole(input: HaInput, cluster: Cluster, message: string, promoteMessage: string, before: Action[]): Plan {
  // A standby cluster's lock holder never promotes: it follows the remote source.
  if (input.settings.standbyCluster) return enforceFollowRemote(input, 'promoted self to a standby leader because i had the session lock', before);
  if (input.settings.watchdogUnavailable && !input.settings.paused) {
    // Without a working fence (or a required watchdog) a primary could outlive its lease unguarded.
    return { message: 'Demoting self because watchdog could not be activated', actions: [...before, { type: 'demote', mode: 'immediate' }], reason: 'the fence or the required watchdog is not available' };
  }
  if (input.memory.prePromoteFailed && !input.settings.paused) {
    // Patroni: give the lock up at once and stay out of the next race for a ttl, so another member promotes.
    return {
      message: 'Promotion cancelled because the pre-promote script failed', actions: [...before, { type: 'release_lock' }],
      remember: { prePromoteFailed: false, prePromoteBackoffUntil: input.monotonic + input.settings.ttl * 1000 }, reason: 'the pre_promote script failed',
    };
  }
  const sync = input.settings.sync;
  if (isPrimary(input)) {
    const actions = [...before];
    if (sync) actions.push({ type: 'sync_replication', sync });
    if (historyNeedsUpdate(input, cluster)) actions.push({ type: 'update_history' });
    return { message, actions };
  }
  return { message: promoteMessage, actions: [...before, sync ? { type: 'promote', sync } : { type: 'promote' }] };
}

/**
 * Patroni's follow(): a primary without the lock demotes (unless paused); a replica converges its
 * recovery configuration on the node to follow.
 */
export function follow(input: HaInput, cluster: Cluster, demoteReason: string, followReason: string): Plan {
  const target = nodeToFollow(input, cluster);
  if (input.settings.paused) {
    if (isPrimary(input)) return plan('continue to run as primary without lock');
    if (!target) return plan(`no action. I am (${input.name})`);
  } else if (isPrimary(input)) {
    return { message: demoteReason, actions: [{ type: 'demote', mode: 'immediate-nolock' }], reason: demoteReason };
  } else {
    const diverged = divergedReplica(input, cluster);
    if (diverged) return diverged;
  }
  return plan(followReason, { type: 'follow', leader: target });
}

/**
 * A running replica that does not stream from the leader may hold WAL the leader never had (it
 * received past the point where the leader's timeline forked off): PostgreSQL then retries for ever
 * ("new timeline N forked off current database system timeline M before current recovery point").
 * Check once per leader and leader timeline; when diverged, rewind, else re-clone, else say so.
 */
function divergedReplica(input: HaInput, cluster: Cluster): Plan | null {
  const { pg, memory, settings, name } = input;
  const leader = cluster.leaderName;
  if (!leader || leader === name || !pg.running || pg.inRecovery !== true || pg.receiverStreaming !== false) return null;
  // A leader on a newer timeline may have forked off below us, one on an older timeline can never
  // serve us. On the same timeline number histories usually agree, and a replica that merely lost
  // its dead leader waits for the next one; but two promotions that never saw each other's history
  // pick the same number (found by the simulation): worth a check only when the leader has WAL
  // past ours that does not reach us.
  const leaderTimeline = cluster.leader?.member.timeline ?? null;
  if (leaderTimeline !== null && pg.timeline !== null && leaderTimeline === pg.timeline
    && !((cluster.leader?.member.lsn ?? 0) > (pg.walPosition ?? 0))) return null;
  // Once per leader, leader timeline and my position: WAL that reached me after a check (from a
  // member that had not caught up yet) can make me diverge later (found by the simulation).
  const key = `${leader}@${leaderTimeline ?? '?'}/${pg.walPosition ?? '?'}`;
  // A check that failed (the leader unreachable: often just dead) is retried once per ttl, not every cycle.
  const failedLongAgo = memory.divergenceFailedAt !== null && memory.divergenceFailedAt !== undefined
    && input.monotonic - memory.divergenceFailedAt >= settings.ttl * 1000;
  if (memory.divergenceCheckedFor !== key || failedLongAgo) {
    return {
      message: `checking whether the timeline of ${name} diverged from ${leader}`,
      actions: [{ type: 'check_rewind', leader, checkedFor: key, ...remoteInStandby(input) }], reason: 'not streaming from the leader',
    };
  }
  if (memory.rewind === 'need_rewind' && settings.usePgRewind) {
    return { message: `running pg_rewind from ${leader}`, actions: [{ type: 'rewind', leader, ...remoteInStandby(input) }], reason: `the WAL of ${name} diverged from the leader's timeline` };
  }
  if (['need_rewind', 'need_reinit', 'failed'].includes(memory.rewind)) {
    if (settings.removeDataDirectoryOnDivergedTimelines || (memory.rewind !== 'need_rewind' && settings.removeDataDirectoryOnRewindFailure)) {
      return { message: 'reinitializing due to diverged timelines', actions: [{ type: 'reinitialize', leader }], reason: `the WAL of ${name} diverged from the leader's timeline` };
    }
    const why = `the WAL of ${name} diverged from the timeline of ${leader} and ${memory.rewind === 'need_rewind' ? 'use_pg_rewind is off' : 'pg_rewind is not possible'}; run reinit`;
    return { message: `replica cannot follow ${leader}: ${why}`, actions: [], reason: why };
  }
  return null;
}

/**
 * In a standby cluster the timeline comes from the remote primary, and a standby leader cannot serve
 * pg_rewind (its pg_control lags the timeline it replays): check and rewind against the remote, as
 * Patroni's _handle_rewind_or_reinitialize does.
 */
export const remoteInStandby = (input: HaInput): { remote?: true } => (input.settings.standbyCluster ? { remote: true } : {});

/** Seconds until a scheduled failover is due, 'stale' when long past, or null when not scheduled. */
function scheduledState(input: HaInput, cluster: Cluster): 'wait' | 'stale' | 'due' | null {
  const at = cluster.failover?.scheduledAt;
  if (!at || input.settings.paused) return null;
  const delta = (at.date.getTime() - input.now) / 1000;
  if (delta > input.settings.loopWait) return 'wait';
  if (delta < -Math.trunc(input.settings.loopWait * 1.5)) return 'stale';
  return 'due';
}

/**
 * The leader's side of a manual failover / switchover: demote gracefully when this leader is the
 * one named (or none is) and somebody can take over; otherwise clear the key. Null: nothing to do.
 */
export function manualFailoverFromLeader(input: HaInput, cluster: Cluster): Plan | null {
  const f = cluster.failover;
  if (!f || f.size === 0 || (input.settings.paused && !isPrimary(input))) return null;
  const scheduled = scheduledState(input, cluster);
  if (scheduled === 'wait') return null;
  const clear: Action = { type: 'clear_failover' };
  if (scheduled === 'stale') return { message: `Found a stale failover value, cleaning up`, actions: [clear], reason: 'stale scheduled failover' };
  let why: string;
  if (!f.leader || f.leader === input.name) {
    if (!f.candidate || f.candidate !== input.name) {
      if (!f.candidate && input.settings.paused) why = 'Failover is possible only to a specific candidate in a paused state';
      else {
        const possible = isFailoverPossible(input, cluster, f.candidate);
        if (possible.ok) {
          const message = f.leader ? 'switchover: demoting myself' : 'manual failover: demoting myself';
          return { message, actions: [{ type: 'demote', mode: 'graceful' }], reason: message };
        }
        why = `manual failover: no healthy members found, failover is not possible (${possible.reason})`;
      }
    } else why = 'manual failover: I am already the leader, no need to failover';
  } else why = `manual failover: leader name does not match: ${f.leader} != ${input.name}`;
  return { message: why, actions: [clear], reason: why };
}

/** The cluster has a leader key. */
export function processHealthyCluster(input: HaInput, cluster: Cluster): Plan {
  const me = input.name;
  if (input.settings.standbyCluster) {
    return standbyHealthyCluster(input, cluster, () => follow(input, cluster, 'cannot be a real primary in a standby cluster',
      `no action. I am (${me}), a secondary, and following a standby leader (${cluster.leaderName})`));
  }
  if (cluster.leaderName === me) {
    if (input.settings.paused && !isPrimary(input)) {
      if (cluster.failover?.candidate === me) return plan('waiting to become primary after promote...');
      return plan('removed leader lock because postgres is not running as primary', { type: 'release_lock' });
    }
    const update: Action = { type: 'update_lock' };
    const onFail: Plan = isPrimary(input)
      ? input.settings.paused
        ? plan('continue to run as primary after failing to update leader lock in DCS')
        : { message: 'demoted self because failed to update leader lock in DCS', actions: [{ type: 'demote', mode: 'immediate-nolock' }], reason: 'failed to update leader lock in DCS' }
      : plan('not promoting because failed to update leader lock in DCS');
    const manual = manualFailoverFromLeader(input, cluster);
    if (manual && manual.actions.some((a) => a.type === 'demote')) {
      return { ...manual, actions: [update, ...manual.actions], onFail };
    }
    const before: Action[] = [update, ...(manual?.actions ?? [])];
    const enforced = enforcePrimaryRole(input, cluster, `no action. I am (${me}), the leader with the lock`,
      'promoted self to leader because I had the session lock', before);
    // Failsafe: a refresh the DCS did not answer (not a lost compare-and-swap) asks the peers instead of demoting.
    const onDcsError = input.settings.failsafeMode && isPrimary(input) && !input.settings.paused ? dcsUnavailablePlan(input) : undefined;
    return { ...enforced, onFail, reason: manual?.reason, ...(onDcsError ? { onDcsError } : {}) };
  }
  return follow(input, cluster, 'demoting self because I do not have the lock and I was a leader',
    `no action. I am (${me}), a secondary, and following a leader (${cluster.leaderName})`);
}

/**
 * Patroni 4.1's primary_race_backoff: while the old primary may only be briefly unresponsive, a
 * node whose WAL still moves (it streams) postpones the race, for at most primary_race_backoff
 * seconds; the first loop_wait seconds always wait (the key may have expired right after the last
 * heartbeat). Not in pause, nor when a manual failover names a candidate. Returns the back-off
 * plan, or the start time to remember while racing, or null when off.
 */
export function raceBackoff(input: HaInput, cluster: Cluster): { plan: Plan | null; since: number } | null {
  const { settings, memory, pg } = input;
  const backoff = settings.primaryRaceBackoff ?? 0;
  const prev = memory.prevWalPosition;
  if (settings.paused || cluster.failover?.candidate || !(backoff > 0) || prev === null || prev === undefined) return null;
  const since = memory.raceBackoffSince || input.monotonic;
  const left = (since + backoff * 1000 - input.monotonic) / 1000;
  const moving = left > 0 && pg.receiverStreaming === true && (pg.walPosition ?? 0) > prev;
  if (moving || left > backoff - settings.loopWait) {
    const message = `My (${input.name}) wal position moved since last heart beat loop, ${Math.round(left)} seconds until leader race`;
    return { plan: { message, actions: [], remember: { raceBackoffSince: since }, reason: 'primary_race_backoff' }, since };
  }
  return { plan: null, since };
}

/** No leader key: race for it if this is the healthiest node, else follow whoever wins. */
export function processUnhealthyCluster(input: HaInput, cluster: Cluster): Plan {
  if (input.settings.standbyCluster) return standbyUnhealthyCluster(input, cluster);
  const backoff = raceBackoff(input, cluster);
  if (backoff?.plan) return backoff.plan;
  const p = raceOrFollow(input, cluster);
  return backoff ? { ...p, remember: { ...p.remember, raceBackoffSince: backoff.since } } : p;
}

/**
 * Somebody else won the race, and this view does not say who: follow what the tags fix regardless
 * of the leader (`nostream`: nobody; an existing `replicatefrom` member), and run the next cycle at
 * once on a fresh view, which follows the winner by the usual rules.
 */
function afterLostRace(input: HaInput, cluster: Cluster): Action[] {
  const target = nodeToFollow(input, cluster);
  const fixed = input.tags.nostream || target !== null;
  return fixed ? [{ type: 'follow', leader: target }, { type: 'refresh' }] : [{ type: 'refresh' }];
}

function raceOrFollow(input: HaInput, cluster: Cluster): Plan {
  const verdict = isHealthiestNode(input, cluster);
  if (verdict.ok) {
    const before: Action[] = [{ type: 'acquire_lock' }];
    if (cluster.failover) before.push({ type: 'clear_failover' });
    const won = enforcePrimaryRole(input, cluster, 'acquired session lock as a leader', 'promoted self to leader by acquiring session lock', before);
    const lost = follow(input, cluster, 'demoted self after trying and failing to obtain lock',
      'following new leader after trying and failing to obtain lock');
    return { ...won, onFail: { ...lost, actions: lost.actions.flatMap((a) => (a.type === 'follow' ? afterLostRace(input, cluster) : [a])) } };
  }
  const notAllowed = input.tags.nofailover;
  const p = notAllowed
    ? follow(input, cluster, 'demoting self because I am not allowed to become primary', 'following a different leader because I am not allowed to promote')
    : follow(input, cluster, 'demoting self because i am not the healthiest node', 'following a different leader because i am not the healthiest node');
  return { ...p, reason: verdict.reason };
}

/** No leader key in a standby cluster: no race back-off; the winner becomes the standby leader, the rest follow the remote. */
function standbyUnhealthyCluster(input: HaInput, cluster: Cluster): Plan {
  const verdict = isHealthiestNode(input, cluster);
  if (verdict.ok) {
    const lost = follow(input, cluster, 'demoted self after trying and failing to obtain lock', 'following new leader after trying and failing to obtain lock');
    return { ...standbyRaceWon(input, cluster), onFail: { ...lost, actions: lost.actions.map((a) => (a.type === 'follow' ? { type: 'follow', leader: null, reload: true } : a)) } };
  }
  const p = follow(input, cluster, 'demoting self because i am not the healthiest node', 'following a different leader because i am not the healthiest node');
  return { ...(input.settings.paused ? p : standbyUnlockedFollow(p)), reason: verdict.reason };
}
