/**
 * Peer status checks for the leader race: parallel `GET <api_url>` to every other member, 2 s
 * timeout, no retry (Patroni's fetch_nodes_statuses). Unreachable peers are reported as such.
 */
import type { Cluster } from '../model/cluster.js';
import type { Member } from '../model/member.js';
import type { PeerStatus } from '../ha/types.js';
import { isPlainObject, truthy } from '../util/json.js';
import type { HttpClient } from '../di.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Interpret a peer's `GET /patroni` JSON the way Patroni's race does. */
export function peerStatusFromJson(name: string, body: unknown): PeerStatus {
  const j = isPlainObject(body) ? body : {};
  const xlog = isPlainObject(j.xlog) ? j.xlog : isPlainObject(j.wal) ? j.wal : {};
  const role = String(j.role ?? '');
  const location = num(xlog.location);
  const inRecovery = location === null && !['master', 'primary'].includes(role);
  const wal = inRecovery ? Math.max(num(xlog.received_location) ?? 0, num(xlog.replayed_location) ?? 0) : location ?? 0;
  const tags = isPlainObject(j.tags) ? j.tags : {};
  const prio = Number.parseInt(String(tags.failover_priority ?? '1'), 10);
  const nofailover = tags.nofailover !== undefined && tags.nofailover !== null ? truthy(tags.nofailover) : Number.isFinite(prio) && prio <= 0;
  return {
    name, reachable: true, inRecovery, walPosition: wal, timeline: num(j.timeline),
    nofailover, failoverPriority: nofailover ? 0 : Number.isFinite(prio) ? prio : 1, watchdogFailed: truthy(j.watchdog_failed),
  };
}

const unreachable = (name: string): PeerStatus => ({
  name, reachable: false, inRecovery: true, walPosition: 0, timeline: null, nofailover: false, failoverPriority: 0, watchdogFailed: false,
});

export async function fetchPeerStatus(http: HttpClient, member: Member, timeoutMs = 2000): Promise<PeerStatus> {
  if (!member.apiUrl) return unreachable(member.name);
  // A timer cleared once answered (AbortSignal.timeout's would fire anyway, seconds later, and build
  // an exception nobody reads: the race asks every peer, every cycle it runs).
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await http(member.apiUrl, { signal: abort.signal, headers: { accept: 'application/json' } });
    const body: unknown = await res.json();
    return peerStatusFromJson(member.name, body);
  } catch {
    return unreachable(member.name);
  } finally {
    clearTimeout(timer);
  }
}

/** Statuses of every member but me (current members plus those of the last healthy view). */
export async function fetchPeerStatuses(http: HttpClient, me: string, cluster: Cluster, oldCluster: Cluster | null): Promise<PeerStatus[]> {
  const members = new Map<string, Member>();
  for (const m of [...(oldCluster?.members ?? []), ...cluster.members]) if (m.name !== me) members.set(m.name, m);
  return Promise.all([...members.values()].map((m) => fetchPeerStatus(http, m)));
}
