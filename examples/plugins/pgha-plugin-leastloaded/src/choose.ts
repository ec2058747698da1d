/**
 * Which member to clone from: the streaming replica serving the fewest WAL senders (its own
 * cascading replicas and running base backups), close enough to the leader. Pure: the probing is
 * done by the caller.
 */
import type { MemberView } from '@pgha/plugin-api';

export interface Probed {
  readonly member: MemberView;
  /** Entries in the member's pg_stat_replication (from its REST status), or null when it did not answer. */
  readonly walsenders: number | null;
}

/** Replicas that could serve a base backup: running, not the leader, not me, reachable by libpq and REST. */
export function eligibleReplicas(members: readonly MemberView[], self: string): MemberView[] {
  return members.filter((m) => m.name !== self && !m.isLeader && m.state === 'running' &&
    (m.role === 'replica' || m.role === 'standby') && !!m.connUrl && !!m.apiUrl && m.tags.clonefrom !== false);
}

/**
 * The least-loaded probed replica within `maxLagBytes` of the leader's published position; ties go
 * to the one furthest ahead, then by name. Null when none qualifies.
 */
export function pickLeastLoaded(probed: readonly Probed[], leaderLsn: number | null, maxLagBytes: number): Probed | null {
  const ok = probed.filter((p) => p.walsenders !== null &&
    (leaderLsn === null || p.member.lsn === null || leaderLsn - p.member.lsn <= maxLagBytes));
  ok.sort((a, b) => a.walsenders! - b.walsenders! || (b.member.lsn ?? 0) - (a.member.lsn ?? 0) || a.member.name.localeCompare(b.member.name));
  return ok[0] ?? null;
}
