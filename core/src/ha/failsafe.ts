/**
 * Failsafe mode (Patroni 3+, `failsafe_mode: true`): a primary that loses the DCS keeps running only
 * while every member of the `/failsafe` topology confirms it over the REST API. The pieces here are
 * pure: the topology the leader publishes, the replica's memory of the primary that pinged it, the
 * injection of that primary into an unlocked DCS view, the race rule, and the plan for a cycle
 * without the DCS.
 *
 * Safety arithmetic (why a confirmed primary and a racing replica cannot overlap): the primary's
 * fence deadline is extended to `sentAt + fireAfter` (fireAfter = ttl - safety_margin < ttl) by a
 * round of confirmations whose requests were sent at `sentAt`; each replica that confirmed
 * remembers the primary for ttl from the moment it *received* the request (>= sentAt). So a replica
 * that stopped confirming still refuses the race until after the primary's fence fired.
 */
import { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { Leader } from '../model/values.js';
import type { HaInput, Plan, Verdict } from './types.js';
import { isPlainObject } from '../util/json.js';

/** Patroni's POST /failsafe timeout and retries. */
export const FAILSAFE_REQUEST_TIMEOUT_MS = 2000;
export const FAILSAFE_REQUEST_RETRIES = 1;

/**
 * The `/failsafe` value the leader keeps current with every lock refresh: name -> api_url of every
 * member that publishes one, plus the leader itself.
 */
export function failsafeTopology(cluster: Cluster, me: string, myApiUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of cluster.members) if (m.apiUrl) out[m.name] = m.apiUrl;
  if (!(me in out)) out[me] = myApiUrl;
  return out;
}

/**
 * The members a primary must ask during a DCS outage, or null when it may not keep running at all
 * (no usable `/failsafe` value, or it does not list this node). An empty list: a single-node cluster.
 */
export function failsafePeers(topology: unknown, me: string): Array<{ name: string; url: string }> | null {
  if (!isPlainObject(topology) || !Object.hasOwn(topology, me)) return null;
  const peers: Array<{ name: string; url: string }> = [];
  for (const [name, url] of Object.entries(topology)) {
    if (name === me) continue;
    // A member without a usable URL cannot confirm: asking nobody would be consent by default.
    peers.push({ name, url: typeof url === 'string' ? url : '' });
  }
  return peers;
}

/** The request body a primary sends (Patroni's check_failsafe_topology). */
export interface FailsafePing {
  readonly name: string;
  readonly conn_url: string;
  readonly api_url: string;
  readonly slots?: Record<string, number>;
}

/** One member's answer: accepted only on `200 Accepted`. */
export interface FailsafeAnswer {
  readonly name: string;
  readonly accepted: boolean;
  /** The member's received/replayed position (the `lsn` header), if it sent one. */
  readonly lsn: number | null;
}

/** All listed members must accept; one refusal or silence means the primary demotes. */
export function failsafeConsent(peers: readonly { name: string }[], answers: readonly FailsafeAnswer[]): Verdict {
  const missing = peers.filter((p) => !answers.some((a) => a.name === p.name && a.accepted)).map((p) => p.name);
  return missing.length ? { ok: false, reason: `failsafe: no confirmation from ${missing.join(', ')}` } : { ok: true, reason: '' };
}

/** Parse a POST /failsafe body; a string is the reason it is refused (400). */
export function parseFailsafePing(body: unknown): FailsafePing | string {
  if (!isPlainObject(body)) return 'the request body must be a JSON object';
  const b = body;
  for (const k of ['name', 'conn_url', 'api_url'] as const) {
    if (typeof b[k] !== 'string' || !b[k] || (b[k] as string).length > 1024) return `${k} must be a non-empty string`;
  }
  let slots: Record<string, number> | undefined;
  if (b.slots !== undefined && b.slots !== null) {
    if (!isPlainObject(b.slots)) return 'slots must be an object';
    slots = {};
    for (const [k, v] of Object.entries(b.slots).slice(0, 1000)) {
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) slots[k] = v;
    }
  }
  return { name: b.name as string, conn_url: b.conn_url as string, api_url: b.api_url as string, ...(slots ? { slots } : {}) };
}

/**
 * A replica's memory of the primary that last pinged it (Patroni's Failsafe object). Valid for ttl
 * from the moment the ping arrived; monotonic milliseconds.
 */
export class FailsafeMemory {
  private ping: FailsafePing | null = null;
  private at = 0;
  /** On the primary: confirmations valid until (monotonic ms); 0 = not in failsafe. */
  private primaryUntil = 0;

  update(ping: FailsafePing, nowMs: number): void {
    this.ping = ping;
    this.at = nowMs;
  }

  /** The primary to follow while its ping is fresh, else null. */
  leader(nowMs: number, ttlS: number): FailsafePing | null {
    return this.ping && this.at + ttlS * 1000 > nowMs ? this.ping : null;
  }

  /** The primary kept running on its peers' consent (sentAt: when the confirmed requests went out). */
  confirmedAsPrimary(sentAtMs: number, ttlS: number): void {
    this.primaryUntil = sentAtMs + ttlS * 1000;
  }

  /** `failsafe_mode_is_active` as GET /patroni reports it. */
  active(nowMs: number, ttlS: number): boolean {
    return this.primaryUntil > nowMs || this.leader(nowMs, ttlS) !== null;
  }

  reset(): void {
    this.ping = null;
    this.at = 0;
    this.primaryUntil = 0;
  }
}

/**
 * An unlocked view gets the primary that pinged us within ttl as its leader (Patroni's
 * Failsafe.update_cluster), so this node follows it instead of racing. Unchanged otherwise.
 */
export function withFailsafeLeader(cluster: Cluster, ping: FailsafePing | null, me: string): Cluster {
  if (!ping || !cluster.isUnlocked() || ping.name === me) return cluster;
  const known = cluster.members.find((m) => m.name === ping.name);
  const data = { ...(known?.data ?? {}), conn_url: ping.conn_url, api_url: ping.api_url };
  const member = new Member(known?.version ?? -1, ping.name, null, data);
  return new Cluster({
    initialize: cluster.initialize, config: cluster.config, leader: new Leader(-1, null, member), status: cluster.status,
    members: [...cluster.members], failover: cluster.failover, sync: cluster.sync, history: cluster.history, failsafe: cluster.failsafe,
  });
}

/**
 * The race rule: with failsafe on and a non-empty `/failsafe`, only the members it lists may race
 * (a node that joined during the outage, or was never confirmed, could not have been asked).
 */
export function failsafeRaceVerdict(input: HaInput, cluster: Cluster): Verdict | null {
  if (!input.settings.failsafeMode) return null;
  const t = cluster.failsafe;
  if (t && Object.keys(t).length && !Object.hasOwn(t, input.name)) {
    return { ok: false, reason: `failsafe: ${input.name} is not in the /failsafe topology` };
  }
  return null;
}

/**
 * Patroni's `_handle_dcs_error`: the DCS could not be read. A running primary with failsafe on asks
 * its peers and stays only if all confirm; otherwise (or with failsafe off) it demotes. Paused: no
 * action. Replicas: nothing to do (they keep streaming; they cannot race without the DCS).
 */
export function dcsUnavailablePlan(input: HaInput): Plan {
  const primary = input.pg.running && input.pg.inRecovery === false;
  if (input.settings.paused || !primary) return { message: 'DCS is not accessible', actions: [] };
  const demote: Plan = {
    message: 'demoting self because DCS is not accessible and I was a leader',
    actions: [{ type: 'demote', mode: 'offline' }], reason: 'DCS is not accessible',
  };
  if (!input.settings.failsafeMode) return demote;
  return {
    message: 'continue to run as a leader because failsafe mode is enabled and all members are accessible',
    actions: [{ type: 'failsafe_confirm' }],
    onFail: demote,
    reason: 'DCS is not accessible; failsafe mode: all members confirmed',
  };
}
