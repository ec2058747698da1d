/**
 * `GET /dashboard/state`: one JSON document with everything the dashboard page shows, so the page
 * talks only to the agent that served it (other members' APIs are other origins). Built from the
 * DCS view (GET /cluster's shape), this node's status and every other member's `GET /patroni`
 * (fetched here, in parallel, 1.5 s timeout each), plus a short in-memory history of replica lag.
 * Values from the DCS and from peers are only copied into JSON, never interpreted as markup or code.
 */
import { isDcsError } from '../errors.js';
import type { Cluster } from '../model/cluster.js';
import { httpRequest } from '../util/http-request.js';
import { isPlainObject } from '../util/json.js';
import type { ApiBackend } from './backend.js';
import { clusterAsJson } from './cluster-json.js';
import { fetchNodeStatus, globalView, statusDocument } from './status.js';
import type { ApiContext } from './types.js';

const PEER_TIMEOUT_MS = 1500;
/** Peers' answers larger than this are ignored (a status document is about 1 KiB). */
const MAX_PEER_BYTES = 256 * 1024;
/** Lag samples: one every 2 s at most, 10 minutes kept. */
const SAMPLE_EVERY_MS = 2000;
const SAMPLES_KEPT = 300;
/** Concurrent page loads share one build this young. */
const STATE_TTL_MS = 1000;
const MAX_HISTORY_ROWS = 50;

export interface LagSample {
  readonly t: number;
  readonly lag: Readonly<Record<string, number | null>>;
}

interface Memo {
  at: number;
  building: Promise<Record<string, unknown>> | null;
  state: Record<string, unknown> | null;
  samples: LagSample[];
  lastSampleAt: number;
}

const memos = new WeakMap<ApiBackend, Memo>();

function memoOf(backend: ApiBackend): Memo {
  let m = memos.get(backend);
  if (!m) memos.set(backend, (m = { at: 0, building: null, state: null, samples: [], lastSampleAt: 0 }));
  return m;
}

/** A peer's `GET /patroni`, or null when it can't be had in time. */
async function peerStatus(apiUrl: string): Promise<Record<string, unknown> | null> {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  try {
    // node:http follows no redirect: a 3xx is no status document and comes out as null below.
    const res = await httpRequest(url, { signal: AbortSignal.timeout(PEER_TIMEOUT_MS), headers: { accept: 'application/json' } }, { maxBytes: MAX_PEER_BYTES });
    const body: unknown = await res.json();
    return isPlainObject(body) ? body : null;
  } catch {
    return null;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Bytes a replica is behind, from live positions when both ends answered (fresher than the DCS,
 * where members publish once per loop), else GET /cluster's value from the DCS.
 */
function lagBytes(status: Record<string, unknown> | null, primaryLive: number | null, fromDcs: unknown): unknown {
  const xlog = status && isPlainObject(status.xlog) ? status.xlog : null;
  const received = num(xlog?.received_location);
  const replayed = num(xlog?.replayed_location);
  if (primaryLive === null || (received === null && replayed === null)) return fromDcs;
  return Math.max(0, primaryLive - Math.max(received ?? 0, replayed ?? 0));
}

/** Seconds a replica's replay is behind: 0 when it has replayed all the primary wrote, else the age of its last replayed transaction. */
function lagSeconds(status: Record<string, unknown> | null, primaryLsn: number | null, nowMs: number): number | null {
  const xlog = status && isPlainObject(status.xlog) ? status.xlog : null;
  if (!xlog || num(xlog.location) !== null) return null;
  const replayed = num(xlog.replayed_location);
  if (primaryLsn !== null && replayed !== null && replayed >= primaryLsn) return 0;
  const ts = str(xlog.replayed_timestamp);
  const at = ts ? Date.parse(ts.replace(' ', 'T')) : NaN;
  return Number.isFinite(at) ? Math.max(0, Math.round((nowMs - at) / 100) / 10) : null;
}

/** Who streams from whom: each member's pg_stat_replication rows name its downstreams. */
function upstreams(statuses: Map<string, Record<string, unknown> | null>, names: ReadonlySet<string>): Map<string, string> {
  const parent = new Map<string, string>();
  for (const [name, st] of statuses) {
    const rows = st && Array.isArray(st.replication) ? st.replication : [];
    for (const row of rows) {
      const app = isPlainObject(row) ? str(row.application_name) : null;
      if (app && app !== name && names.has(app)) parent.set(app, name);
    }
  }
  return parent;
}

function historyRows(cluster: Cluster): Array<Record<string, unknown>> {
  const lines = cluster.history?.lines ?? [];
  return lines.slice(-MAX_HISTORY_ROWS).reverse().map((l) => ({
    timeline: num(l[0]), lsn: num(l[1]), reason: str(l[2]), timestamp: str(l[3]) ?? null, newLeader: str(l[4]) ?? null,
  }));
}

async function build(ctx: ApiContext, memo: Memo): Promise<Record<string, unknown>> {
  const { backend } = ctx;
  const now = ctx.options.clock.now();
  const selfDoc = statusDocument(backend, await fetchNodeStatus(ctx));
  let cluster: Cluster | null = backend.cachedCluster();
  let dcsError: string | null = null;
  if (!cluster) {
    try {
      cluster = await backend.dcs.getCluster();
    } catch (e) {
      if (!isDcsError(e)) throw e;
      dcsError = `DCS is not accessible: ${e.message}`;
    }
  }
  const base = {
    scope: backend.scope, self: backend.name, version: backend.version, generatedAt: now,
    authRequired: !!(ctx.config.authentication && (ctx.config.authentication.username !== undefined || ctx.config.authentication.password !== undefined)),
    dcsError,
  };
  if (!cluster) return { ...base, members: [], history: [], lag: memo.samples, selfStatus: selfDoc };

  const view = globalView(backend, cluster);
  const json = clusterAsJson(cluster, backend);
  const members = json.members as Array<Record<string, unknown>>;
  const statuses = new Map<string, Record<string, unknown> | null>();
  await Promise.all(cluster.members.map(async (m) => {
    statuses.set(m.name, m.name === backend.name ? selfDoc : m.apiUrl ? await peerStatus(m.apiUrl) : null);
  }));
  const leaderName = cluster.leaderName;
  const leaderStatus = leaderName ? statuses.get(leaderName) : null;
  const leaderXlog = leaderStatus && isPlainObject(leaderStatus.xlog) ? leaderStatus.xlog : null;
  const primaryLive = num(leaderXlog?.location);
  const primaryLsn = primaryLive ?? (cluster.lastLsn || null);
  const parents = upstreams(statuses, new Set(cluster.members.map((m) => m.name)));

  const out = members.map((m): Record<string, unknown> => {
    const name = String(m.name);
    const member = cluster.members.find((x) => x.name === name);
    const st = statuses.get(name) ?? null;
    const decision = st && isPlainObject(st.decision) ? st.decision : null;
    const published = member ? str(member.data.pgha_reason) : null;
    const upstream = name === leaderName ? null : parents.get(name) ?? member?.replicatefrom ?? leaderName;
    return {
      ...m,
      lag: name === leaderName ? m.lag : lagBytes(st, primaryLive, m.lag),
      reachable: st !== null,
      pgState: st ? str(st.state) : null,
      timeline: num(st?.timeline) ?? num(m.timeline),
      lagSeconds: name === leaderName ? null : lagSeconds(st, primaryLsn, now),
      upstream,
      decision: decision ? { message: str(decision.message), reason: str(decision.reason) } : published ? { message: null, reason: published } : null,
      fenceArmed: st ? st.fence_armed === true : null,
      pendingRestart: m.pending_restart === true || st?.pending_restart === true,
      version: member ? str(member.data.version) : null,
    };
  });

  if (now - memo.lastSampleAt >= SAMPLE_EVERY_MS) {
    memo.lastSampleAt = now;
    // Keyed by member names from the DCS: no prototype, so no name can be special.
    const lag: Record<string, number | null> = Object.create(null) as Record<string, number | null>;
    for (const m of out) if (m.name !== leaderName) lag[String(m.name)] = typeof m.lag === 'number' ? m.lag : null;
    memo.samples.push({ t: now, lag });
    if (memo.samples.length > SAMPLES_KEPT) memo.samples.splice(0, memo.samples.length - SAMPLES_KEPT);
  }

  return {
    ...base,
    leader: leaderName,
    paused: view.paused,
    standbyCluster: view.standbyCluster,
    synchronousMode: view.synchronousMode,
    failsafeMode: backend.settings.failsafeMode,
    clusterUnlocked: cluster.isUnlocked(),
    primaryLsn,
    scheduledSwitchover: json.scheduled_switchover ?? null,
    settings: { ttl: backend.settings.ttl, loopWait: backend.settings.loopWait, maximumLagOnFailover: view.maximumLagOnFailover },
    members: out,
    history: historyRows(cluster),
    lag: memo.samples,
  };
}

/** The state document; requests within a second of each other share one build (and one round of peer requests). */
export async function dashboardState(ctx: ApiContext): Promise<Record<string, unknown>> {
  const memo = memoOf(ctx.backend);
  const now = ctx.options.clock.monotonic();
  if (memo.state && now - memo.at < STATE_TTL_MS) return memo.state;
  if (!memo.building) {
    memo.building = build(ctx, memo).then((s) => {
      memo.state = s;
      memo.at = ctx.options.clock.monotonic();
      return s;
    }).finally(() => { memo.building = null; });
  }
  return memo.building;
}
