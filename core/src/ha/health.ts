/**
 * Pre-promotion checks: is this node the healthiest to take over, and could anyone else take over
 * (before a voluntary demotion)? Pure functions of the HA input; peers were fetched by the agent.
 */
import type { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { failsafeRaceVerdict } from './failsafe.js';
import { syncRace } from './sync-race.js';
import type { HaInput, PeerStatus, Verdict } from './types.js';

const yes = (reason = ''): Verdict => ({ ok: true, reason });
const no = (reason: string): Verdict => ({ ok: false, reason });

/** My WAL lags the last leader position in `/status` by more than maximum_lag_on_failover. */
export function isLagging(cluster: Cluster, walPosition: number, maxLag: number): boolean {
  return (cluster.lastLsn || 0) - walPosition > maxLag;
}

function peerLimitation(p: PeerStatus): string | null {
  if (!p.reachable) return 'not reachable';
  if (p.nofailover) return 'not allowed to promote';
  if (p.watchdogFailed) return 'not watchdog capable';
  return null;
}

/** The comparison against reachable, promotable peers (Patroni's `_is_healthiest_node`). */
export function compareWithPeers(input: HaInput, cluster: Cluster, candidates: readonly Member[], checkLag: boolean, formerLeader: string | null = null): Verdict {
  const my = input.pg.walPosition ?? 0;
  if (checkLag && isLagging(cluster, my, input.settings.maximumLagOnFailover)) {
    return no('My wal position exceeds maximum replication lag');
  }
  if (input.settings.checkTimeline) {
    const clusterTl = cluster.timeline;
    if (input.pg.timeline === null) return no('Can not figure out my timeline');
    if (input.pg.timeline < clusterTl) return no(`My timeline ${input.pg.timeline} is behind last known cluster timeline ${clusterTl}`);
  }
  const sync = syncRace(input, cluster);
  // In quorum mode the voters count even when they may not promote themselves.
  const names = new Set(candidates.filter((m) => m.name !== input.name && m.apiUrl && (!m.nofailover || sync.isVoter(m.name))).map((m) => m.name));
  const leaderName = sync.active ? cluster.sync.leader : formerLeader;
  let votes = sync.isVoter(input.name) ? 0 : -1;
  let ahead = 0;
  const notes: string[] = [];
  for (const st of input.peers) {
    if (!names.has(st.name) || peerLimitation(st)) continue;
    if (!st.inRecovery) return no(`Primary (${st.name}) is still alive`);
    if (my < st.walPosition) {
      ahead += 1;
      // The former leader may be up again and ahead of us: it may not race, so it does not hold us back.
      if (!sync.active || !cluster.sync.leaderMatches(st.name)) return no(`Wal position of ${st.name} is ahead of my wal position`);
      notes.push('Ignoring the former leader being ahead of us');
    } else if (st.walPosition > 0) {
      const vote = sync.isVoter(st.name);
      let lowPriority = my === st.walPosition && input.tags.failoverPriority < st.failoverPriority;
      if (lowPriority && leaderName && leaderName === st.name) lowPriority = false;
      if (lowPriority && (!sync.quorum || vote)) {
        return no(`${st.name} has equally tolerable WAL position and priority ${st.failoverPriority}, while this node has priority ${input.tags.failoverPriority}`);
      }
      if (vote) votes += 1;
    }
  }
  if (!sync.quorum || votes >= cluster.sync.quorum || (ahead === 0 && cluster.sync.leader === input.name)) return yes(notes.join('; '));
  return no(`Quorum requirement ${cluster.sync.quorum} can not be reached: got ${Math.max(votes, 0)} votes`);
}

/**
 * A manual failover is pending and there is no leader: the named candidate takes it; everybody else
 * abstains while the candidate is healthy; otherwise a race among all but the former leader,
 * without the lag check. Null: the pending failover is void here (paused and candidate gone).
 */
export function manualFailoverNoLeader(input: HaInput, cluster: Cluster): Verdict {
  const failover = cluster.failover!;
  if (failover.candidate) {
    if (failover.candidate === input.name) return yes('I am the manual failover candidate');
    if (input.settings.paused) return no(`manual failover to ${failover.candidate} is pending`);
    // Synchronous mode (not quorum): a node outside /sync does nothing, even if the candidate is unhealthy.
    const sync = syncRace(input, cluster);
    if (sync.requested && !sync.quorumRequested && !cluster.sync.matches(input.name, true)) return no(`manual failover to ${failover.candidate} is pending and I am not a synchronous standby`);
    const member = cluster.getMember(failover.candidate, false);
    if (member instanceof Member) {
      const st = input.peers.find((p) => p.name === failover.candidate);
      const limitation = st ? peerLimitation(st) : 'not reachable';
      if (!limitation) return no(`manual failover candidate ${failover.candidate} is healthy`);
    }
  }
  const sync = syncRace(input, cluster);
  const others = cluster.members.filter((m) => m.name !== failover.leader && (!sync.active || cluster.sync.matches(m.name)));
  if (failover.leader === input.name) {
    // The former leader re-races only when nobody else can take over.
    const alive = input.peers.some((p) => p.name !== input.name && others.some((m) => m.name === p.name) && !peerLimitation(p));
    if (alive) return no('I am the former leader and another member can take over');
  }
  return compareWithPeers(input, cluster, others, false);
}

/** May this node race for the free leader key? (Patroni's `is_healthiest_node`.) */
export function isHealthiestNode(input: HaInput, cluster: Cluster): Verdict {
  const { pg, settings, memory } = input;
  if (input.monotonic < memory.prePromoteBackoffUntil) {
    return no('backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily');
  }
  // In pause a manual failover to a named candidate is still honoured.
  if (settings.paused && !input.tags.nofailover && cluster.failover && cluster.failover.size > 0 && !cluster.failover.scheduledAt) {
    return manualFailoverNoLeader(input, cluster);
  }
  if (pg.running && pg.inRecovery === false) {
    if (settings.paused) {
      return cluster.initialize && pg.sysid !== cluster.initialize ? no('system ID does not match /initialize') : yes();
    }
    // A primary that lost its lock (e.g. stalled) must not come back after someone else promoted.
    const clusterTl = cluster.timeline;
    if ((pg.timeline ?? 0) < clusterTl) return no(`Rejecting leader race: my timeline ${pg.timeline} is behind the cluster timeline ${clusterTl}`);
    return yes();
  }
  if (settings.paused) return no('paused: no automatic failover');
  if (settings.watchdogUnavailable) return no('watchdog is required but not available');
  if (input.tags.nofailover) return no('I am not allowed to promote (nofailover)');
  const sync = syncRace(input, cluster);
  if (cluster.failover && cluster.failover.size > 0) {
    // A switchover in synchronous mode: only the synchronous standbys and the former leader race.
    if (cluster.failover.leader && sync.active && !cluster.sync.matches(input.name, true)) return no('switchover in synchronous mode: I am not a synchronous standby');
    return manualFailoverNoLeader(input, cluster);
  }
  const failsafe = failsafeRaceVerdict(input, cluster);
  if (failsafe) return failsafe;
  const known = new Map<string, Member>();
  for (const m of [...(input.oldCluster?.members ?? []), ...cluster.members]) known.set(m.name, m);
  if (sync.active) {
    // Only a member of /sync is sure to hold every acknowledged commit (quorum mode: votes decide).
    if (!sync.quorumRequested && !cluster.sync.matches(input.name, true)) return no(`${input.name} is not a synchronous standby`);
    for (const name of [...known.keys()]) if (!cluster.sync.matches(name, true)) known.delete(name);
  }
  return compareWithPeers(input, cluster, [...known.values()], true, input.oldCluster?.leaderName ?? null);
}

/**
 * Could another member take over if I step down? Used before a switchover or giving up a crashed
 * primary. `candidate` restricts the check to one member.
 */
export function isFailoverPossible(input: HaInput, cluster: Cluster, candidate?: string | null): Verdict {
  const sync = syncRace(input, cluster);
  const failover = cluster.failover;
  // In synchronous mode a failover (no leader named), not a switchover, may go to an asynchronous node.
  const syncOk = (name: string) => !sync.active || cluster.sync.matches(name) || (!!failover?.size && !failover.leader);
  const eligible = cluster.members.filter((m) => m.name !== input.name && !m.nofailover && m.apiUrl && syncOk(m.name) && (!candidate || m.name === candidate));
  if (!eligible.length) {
    if (sync.active && candidate) return no(`candidate=${candidate} does not match with sync_standbys=${cluster.sync.syncStandby ?? 'None'}`);
    return no(candidate ? `candidate ${candidate} is not eligible` : 'manual failover: candidates list is empty');
  }
  const reasons: string[] = [];
  let votes = -1;
  for (const m of eligible) {
    const st = input.peers.find((p) => p.name === m.name);
    const limitation = st ? peerLimitation(st) : 'not reachable';
    if (limitation) reasons.push(`Member ${m.name} is ${limitation}`);
    else if (isLagging(cluster, st!.walPosition, input.settings.maximumLagOnFailover)) reasons.push(`Member ${m.name} exceeds maximum replication lag`);
    else if (input.settings.checkTimeline && (!st!.timeline || st!.timeline < cluster.timeline)) {
      reasons.push(`Timeline ${st!.timeline} of member ${m.name} is behind the cluster timeline ${cluster.timeline}`);
    } else votes += 1;
  }
  // Quorum mode: enough healthy voters must remain for the race to reach quorum (not for a named candidate).
  if (sync.quorum && !candidate && votes < cluster.sync.quorum) return no(`Quorum requirement ${cluster.sync.quorum} can not be reached`);
  return votes >= 0 ? yes() : no(reasons.join('; '));
}
