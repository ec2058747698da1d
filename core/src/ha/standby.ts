/**
 * Standby cluster decisions (`standby_cluster` in `/config`, Patroni's reference §2.11): the lock
 * holder is a *standby leader* that replicates from the remote source and never promotes; the
 * other members cascade from it; while the standby cluster has no leader everybody follows the
 * remote source; an empty cluster bootstraps by cloning the remote. Removing the section turns
 * the cluster back into a normal one (its lock holder then promotes through the usual path).
 *
 * Every plan here is a pure function of the HA input. The remote source itself (host, port,
 * primary_slot_name, restore_command, ...) is resolved by the executor (`remote: true`).
 */
import type { Cluster } from '../model/cluster.js';
import { plan, type Action, type HaInput, type Plan } from './types.js';

const isPrimary = (input: HaInput) => input.pg.running && input.pg.inRecovery === false;
const PRIMARY_STATES = ['in production', 'in crash recovery', 'shutting down'];

const followRemote: Action = { type: 'follow', leader: null, remote: true };

/** The member key's `role` for a lock holder in a standby cluster. */
export const STANDBY_LEADER_ROLE = 'standby_leader';

/**
 * The lock holder must never run as a primary here: a primary is stopped (the lock is kept, so
 * the next cycle starts it as the standby leader following the remote, rewinding first if its
 * timeline diverged). Otherwise converge on the remote source.
 */
export function enforceFollowRemote(input: HaInput, message: string, before: Action[]): Plan {
  if (isPrimary(input)) {
    if (input.settings.paused) return { message: 'continue to run as primary without lock', actions: before };
    return {
      message: 'cannot be a real primary in standby cluster',
      actions: [...before, { type: 'demote', mode: 'offline' }], reason: 'demoting to a standby cluster',
    };
  }
  return { message, actions: [...before, followRemote] };
}

/** The lock holder converges on the remote and from now on publishes role `standby_leader`. */
function asStandbyLeader(input: HaInput, message: string, before: Action[]): Plan {
  const p = enforceFollowRemote(input, message, before);
  return isPrimary(input) ? p : { ...p, remember: { role: 'standby_leader' } };
}

/** The cluster has a leader key and a standby_cluster section. */
export function standbyHealthyCluster(input: HaInput, cluster: Cluster, follow: () => Plan): Plan {
  const me = input.name;
  if (cluster.leaderName !== me) {
    const p = follow();
    // The standby leader's name is in the message, as Patroni's.
    return p.message.startsWith('no action. I am (') && p.actions.every((a) => a.type === 'follow')
      ? { ...p, message: `no action. I am (${me}), a secondary, and following a standby leader (${cluster.leaderName})` }
      : p;
  }
  const onFail: Plan = isPrimary(input) && !input.settings.paused
    ? { message: 'demoted self because failed to update leader lock in DCS', actions: [{ type: 'demote', mode: 'immediate-nolock' }], reason: 'failed to update leader lock in DCS' }
    : plan('not promoting because failed to update leader lock in DCS');
  const message = input.memory.role === 'standby_leader'
    ? `no action. I am (${me}), the standby leader with the lock`
    : 'promoted self to a standby leader because i had the session lock';
  // A pending switchover in a standby cluster is Patroni's too: handled by the leader's manual failover path
  // only when it is a primary; a standby leader just keeps following.
  return { ...asStandbyLeader(input, message, [{ type: 'update_lock' }]), onFail };
}

/** No leader key: the winner becomes the standby leader; everybody else follows the remote meanwhile. */
export function standbyRaceWon(input: HaInput, cluster: Cluster): Plan {
  const before: Action[] = [{ type: 'acquire_lock' }];
  if (cluster.failover) before.push({ type: 'clear_failover' });
  return enforceFollowRemote(input, 'promoted self to a standby leader by acquiring session lock', before);
}

/** Patroni's _get_node_to_follow in a standby cluster without a leader (and not paused): the remote. */
export function standbyUnlockedFollow(p: Plan): Plan {
  if (!p.actions.some((a) => a.type === 'follow')) return p;
  return { ...p, actions: p.actions.map((a) => (a.type === 'follow' ? followRemote : a)) };
}

/** Step 9 in a standby cluster: race for /initialize and clone the remote, or clone the local standby leader. */
export function standbyBootstrap(input: HaInput, cluster: Cluster): Plan | null {
  const { settings, tags } = input;
  if (cluster.isUnlocked() && cluster.initialize === null && !tags.nofailover && settings.canBootstrap) {
    return {
      message: 'trying to bootstrap a new standby leader',
      actions: [{ type: 'race_initialize' }, { type: 'bootstrap_standby_leader' }],
      onFail: plan('failed to acquire initialize lock'),
    };
  }
  if (cluster.isUnlocked() && !(settings.hasNoLeaderReplicaMethod && cluster.initialize !== '')) {
    return { ...plan('waiting for standby_leader to bootstrap'), reason: 'no standby leader to clone from' };
  }
  return null;
}

/**
 * Step 11 in a standby cluster (PostgreSQL is not running). The lock holder starts as the standby
 * leader (after a rewind check against the remote when it may have diverged: it was a primary);
 * without a leader, start following the remote; otherwise null (the usual secondary path).
 */
export function standbyRecover(input: HaInput, cluster: Cluster): Plan | null {
  const { pg, memory, settings } = input;
  if (cluster.leaderName === input.name) {
    const mayDiverge = !pg.recoveryConfigured || PRIMARY_STATES.includes(pg.controlState ?? '') || memory.demoted;
    if (mayDiverge) {
      switch (memory.rewind) {
        case 'unknown':
          return { message: `checking whether the timeline of ${input.name} diverged from the remote primary`, actions: [{ type: 'update_lock' }, { type: 'check_rewind', leader: 'remote', remote: true }] };
        case 'need_rewind':
          if (settings.usePgRewind) return { message: 'running pg_rewind from the remote primary', actions: [{ type: 'update_lock' }, { type: 'rewind', leader: 'remote', remote: true }], reason: 'timeline diverged from the remote primary' };
          return { ...plan('postgres is not running', { type: 'update_lock' }), reason: 'timeline diverged from the remote primary and use_pg_rewind is off' };
        case 'need_reinit':
        case 'failed':
          return { ...plan('postgres is not running', { type: 'update_lock' }), reason: 'timeline diverged from the remote primary and pg_rewind is not possible; run reinit' };
        default:
          break;
      }
    }
    return {
      message: 'starting as a standby leader because i had the session lock',
      actions: [{ type: 'update_lock' }, { type: 'start', role: 'standby_leader', leader: null, remote: true }],
      onFail: plan('not starting because failed to update leader lock in DCS'),
    };
  }
  if (cluster.isUnlocked() && !settings.paused) {
    return {
      message: 'trying to follow a remote member because standby cluster is unhealthy',
      actions: [{ type: 'start', role: 'replica', leader: null, remote: true }],
    };
  }
  return null;
}
