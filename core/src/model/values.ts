/**
 * Immutable views of the cluster keys (`/leader`, `/config`, `/failover`, `/sync`, `/status`, `/history`).
 * Every `fromNode` is tolerant: malformed stored values yield an empty object, never an exception,
 * because a member must keep running whatever another writer put in the DCS.
 */
import { JSON_LIMITS, isPlainObject, valueDepthExceeds } from '../util/json.js';
import { clearMalformed, excerpt, parseStoredJson, reportMalformed } from './malformed.js';
import { Member, compareVersions, type Session, type Version } from './member.js';
import { parseIntLoose } from './names.js';
import { parseZonedTime, type ZonedTime } from './timestamp.js';

/**
 * A stored value as a JSON object, or null (reported once as malformed) when it is unparseable,
 * outside the bounds, or not an object. `value` may be text or an already-parsed value.
 */
export function storedObject(key: string, value: unknown, opts: { clearOnSuccess?: boolean } = {}): Record<string, unknown> | null {
  const parsed = typeof value === 'string' ? parseStoredJson(key, value) : value;
  if (parsed === undefined) return null;
  if (!isPlainObject(parsed)) {
    reportMalformed(key, `not a JSON object: ${excerpt(parsed)}`);
    return null;
  }
  if (typeof value !== 'string' && valueDepthExceeds(parsed, JSON_LIMITS.maxDepth)) {
    reportMalformed(key, `nested deeper than ${JSON_LIMITS.maxDepth} levels`);
    return null;
  }
  if (opts.clearOnSuccess !== false) clearMalformed(key);
  return parsed;
}

/** The `/leader` key: version for CAS, session/lease, and the leader's member record. */
export class Leader {
  constructor(readonly version: Version, readonly session: Session, readonly member: Member) {}

  get name(): string { return this.member.name; }
  get connUrl(): string | null { return this.member.connUrl; }
  get data(): Record<string, unknown> { return this.member.data; }
  get timeline(): number | null { return this.member.timeline; }
  connKwargs(auth?: Record<string, unknown> | null) { return this.member.connKwargs(auth); }

  /**
   * Whether the leader has checkpointed since promotion (pg_rewind needs that). True when it runs as
   * primary and no longer publishes `checkpoint_after_promote`; null for Patroni <= 1.5.6 or unknown.
   */
  get checkpointAfterPromote(): boolean | null {
    const v = this.member.patroniVersion;
    if (v && compareVersions(v, [1, 5, 6]) > 0) {
      return ['master', 'primary'].includes(String(this.data.role)) && !('checkpoint_after_promote' in this.data);
    }
    return null;
  }
}

/** The `/config` key: the dynamic configuration. */
export class ClusterConfig {
  constructor(readonly version: Version, readonly data: Record<string, unknown>, readonly modifyVersion: Version) {}

  /** Malformed (or too deep/large) values read as empty: the agent then keeps its last good configuration. */
  static fromNode(version: Version, value: unknown, modifyVersion?: Version | null): ClusterConfig {
    const parsed = storedObject('config', value);
    if (!parsed) return new ClusterConfig(version, {}, 0);
    return new ClusterConfig(version, parsed, modifyVersion ?? version);
  }

  get permanentSlots(): Record<string, unknown> {
    const d = this.data;
    for (const k of ['permanent_replication_slots', 'permanent_slots', 'slots']) {
      const v = d[k];
      if (isPlainObject(v) && Object.keys(v).length) return v;
    }
    return {};
  }

  get ignoreSlotsMatchers(): Array<Record<string, unknown>> {
    const v = this.data.ignore_slots;
    return Array.isArray(v) ? v.filter(isPlainObject) : [];
  }

  get maxTimelinesHistory(): number { return parseIntLoose(this.data.max_timelines_history) ?? 0; }
}

/** The `/failover` key: a pending manual failover or (scheduled) switchover. */
export class Failover {
  constructor(
    readonly version: Version,
    readonly leader: string | null,
    readonly candidate: string | null,
    readonly scheduledAt: ZonedTime | null,
    /** Why the stored value was ignored (then no names are set: nothing is requested). */
    readonly malformed: string | null = null,
  ) {}

  /**
   * Accepts a JSON object (or an already-parsed dict) and the legacy `leader:candidate` string.
   * A `scheduled_at` that is not a valid ISO 8601 time voids the whole request (reported once):
   * an unreadable schedule must never be taken as "now".
   */
  static fromNode(version: Version, value: unknown): Failover {
    const ignored = (why: string) => {
      reportMalformed('failover', `${why}: no failover or switchover runs for it`);
      return new Failover(version, null, null, null, why);
    };
    let data: Record<string, unknown> = {};
    if (isPlainObject(value)) data = value;
    else if (typeof value === 'string' && value) {
      if (LEGACY_FAILOVER_RE.test(value)) {
        const [leader, candidate] = value.split(':').map((s) => s.trim());
        clearMalformed('failover');
        return new Failover(version, leader || null, candidate || null, null);
      }
      const parsed = storedObject('failover', value, { clearOnSuccess: false });
      if (!parsed) return new Failover(version, null, null, null, 'malformed value');
      data = parsed;
    }
    const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
    let sched: ZonedTime | null = null;
    const raw = data.scheduled_at;
    if (raw !== undefined && raw !== null && raw !== '') {
      sched = typeof raw === 'string' ? parseZonedTime(raw) : null;
      if (!sched) return ignored(`invalid scheduled_at ${excerpt(raw)}`);
    }
    for (const k of ['leader', 'member'] as const) {
      if (data[k] !== undefined && data[k] !== null && typeof data[k] !== 'string') return ignored(`"${k}" is not a string: ${excerpt(data[k])}`);
    }
    clearMalformed('failover');
    return new Failover(version, str(data.leader), str(data.member), sched);
  }

  /** Number of names set: 0 means "no failover requested" (Python's `len(failover)`). */
  get size(): number { return (this.leader ? 1 : 0) + (this.candidate ? 1 : 0); }

  /** Tuple-style membership, as `'abc' in Failover.from_node(1, 'abc:def')`. */
  includes(x: unknown): boolean {
    return [this.version, this.leader, this.candidate, this.scheduledAt].includes(x as never);
  }
}

/** Pre-JSON `/failover` values: `leader:candidate` (either may be empty). Anything else is JSON or malformed. */
const LEGACY_FAILOVER_RE = /^[^{}[\]"\n\r:]{0,255}:[^{}[\]"\n\r:]{0,255}$/;

function strToList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The `/sync` key: leader and synchronous standbys (v4 also `quorum`). */
export class SyncState {
  constructor(
    readonly version: Version | null,
    readonly leader: string | null,
    readonly syncStandby: string | null,
    readonly quorum = 0,
  ) {}

  static empty(version: Version | null = null): SyncState { return new SyncState(version, null, null, 0); }

  static fromNode(version: Version | null, value: unknown): SyncState {
    const parsed = value === '' || value === null || value === undefined ? null : storedObject('sync', value);
    if (!parsed) return SyncState.empty(version);
    const leader = typeof parsed.leader === 'string' && parsed.leader ? parsed.leader : null;
    const standby = typeof parsed.sync_standby === 'string' ? parsed.sync_standby : null;
    const quorum = leader ? parseIntLoose(parsed.quorum) ?? 0 : 0;
    return new SyncState(version, leader, standby, quorum);
  }

  /** Not valid without a leader. */
  get isEmpty(): boolean { return !this.leader; }

  get members(): string[] { return this.isEmpty || !this.syncStandby ? [] : strToList(this.syncStandby); }

  /** Case-insensitive (as PostgreSQL treats synchronous_standby_names); optionally counts the leader. */
  matches(name: string | null | undefined, checkLeader = false): boolean {
    if (!name || this.isEmpty) return false;
    const search = (this.syncStandby ?? '') + (checkLeader ? `,${this.leader ?? ''}` : '');
    return strToList(search.toLowerCase()).includes(name.toLowerCase());
  }

  leaderMatches(name: string | null | undefined): boolean {
    return !!name && !this.isEmpty && name.toLowerCase() === (this.leader ?? '').toLowerCase();
  }
}

/** The `/status` key: last leader LSN and permanent slot positions (v4 `retain_slots`). */
export class Status {
  constructor(
    readonly lastLsn: number,
    readonly slots: Record<string, number> | null,
    readonly retainSlots: string[] | null = null,
  ) {}

  static empty(): Status { return new Status(0, null, null); }

  static fromNode(value: unknown): Status {
    const legacy = (n: number) => new Status(Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0, null, null);
    if (typeof value === 'number') return legacy(value); // legacy /optime/leader
    if (typeof value === 'string' && /^\s*\d{1,20}\s*$/.test(value)) return legacy(Number(value));
    const v = storedObject('status', value);
    if (!v) return Status.empty();
    const lsn = Math.max(0, parseIntLoose(v.optime) ?? 0);
    // Slot positions are numbers; anything else in there is dropped rather than passed to PostgreSQL.
    const slots = isPlainObject(v.slots)
      ? Object.fromEntries(Object.entries(v.slots).filter(([, x]) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) as Record<string, number>
      : null;
    const retain = Array.isArray(v.retain_slots) ? v.retain_slots.filter((s): s is string => typeof s === 'string') : null;
    return new Status(lsn, slots, retain);
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { optime: this.lastLsn };
    if (this.slots) out.slots = this.slots;
    if (this.retainSlots) out.retain_slots = this.retainSlots;
    return out;
  }
}

export type HistoryLine = [number, number, string, string?, string?];

/** The `/history` key: JSON list of `[timeline, switch_lsn, reason, timestamp, new_leader]`. */
export class TimelineHistory {
  constructor(readonly version: Version, readonly value: unknown, readonly lines: unknown[][]) {}

  static fromNode(version: Version, value: unknown): TimelineHistory {
    const parsed = typeof value === 'string' ? parseStoredJson('history', value) : undefined;
    if (parsed !== undefined && !Array.isArray(parsed)) reportMalformed('history', `not a JSON list: ${excerpt(parsed)}`);
    else if (parsed !== undefined) clearMalformed('history');
    const lines = Array.isArray(parsed) ? parsed.filter(Array.isArray) : [];
    return new TimelineHistory(version, value, lines as unknown[][]);
  }
}
