/**
 * Immutable views of the cluster keys (`/leader`, `/config`, `/failover`, `/sync`, `/status`, `/history`).
 * Every `fromNode` is tolerant: malformed stored values yield an empty object, never an exception,
 * because a member must keep running whatever another writer put in the DCS.
 */
import { isPlainObject, tryParseJson } from '../util/json.js';
import { Member, compareVersions, type Session, type Version } from './member.js';
import { parseIntLoose } from './names.js';
import { parseZonedTime, type ZonedTime } from './timestamp.js';

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

  static fromNode(version: Version, value: unknown, modifyVersion?: Version | null): ClusterConfig {
    const parsed = typeof value === 'string' ? tryParseJson(value) : value;
    if (!isPlainObject(parsed)) return new ClusterConfig(version, {}, 0);
    return new ClusterConfig(version, parsed, modifyVersion ?? version);
  }

  get permanentSlots(): Record<string, unknown> {
    const d = this.data;
    for (const k of ['permanent_replication_slots', 'permanent_slots', 'slots']) {
      if (isPlainObject(d[k]) && Object.keys(d[k] as object).length) return d[k] as Record<string, unknown>;
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
  ) {}

  /** Accepts a JSON object (or an already-parsed dict) and the legacy `leader:candidate` string. */
  static fromNode(version: Version, value: unknown): Failover {
    let data: Record<string, unknown> = {};
    if (isPlainObject(value)) data = value;
    else if (typeof value === 'string' && value) {
      const parsed = tryParseJson(value);
      if (parsed === undefined) {
        const [leader, candidate] = value.split(':').map((s) => s.trim());
        return new Failover(version, leader || null, candidate || null, null);
      }
      if (isPlainObject(parsed)) data = parsed;
    }
    const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
    const sched = typeof data.scheduled_at === 'string' && data.scheduled_at ? parseZonedTime(data.scheduled_at) : null;
    return new Failover(version, str(data.leader), str(data.member), sched);
  }

  /** Number of names set: 0 means "no failover requested" (Python's `len(failover)`). */
  get size(): number { return (this.leader ? 1 : 0) + (this.candidate ? 1 : 0); }

  /** Tuple-style membership, as `'abc' in Failover.from_node(1, 'abc:def')`. */
  includes(x: unknown): boolean {
    return [this.version, this.leader, this.candidate, this.scheduledAt].includes(x as never);
  }
}

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
    const parsed = typeof value === 'string' && value ? tryParseJson(value) : value;
    if (!isPlainObject(parsed)) return SyncState.empty(version);
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
    let v = value;
    if (typeof v === 'string') {
      v = tryParseJson(v);
      if (v === undefined) return Status.empty();
    }
    if (typeof v === 'number') return new Status(Math.trunc(v), null, null); // legacy /optime/leader
    if (!isPlainObject(v)) return Status.empty();
    const lsn = parseIntLoose(v.optime) ?? 0;
    const slots = isPlainObject(v.slots) ? (v.slots as Record<string, number>) : null;
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
    const parsed = typeof value === 'string' ? tryParseJson(value) : undefined;
    const lines = Array.isArray(parsed) ? parsed.filter(Array.isArray) : [];
    return new TimelineHistory(version, value, lines as unknown[][]);
  }
}
