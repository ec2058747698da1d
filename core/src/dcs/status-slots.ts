/**
 * The slot part of the leader's `/status` value, as Patroni 4.1 publishes it: `slots` (slot name →
 * LSN of every replication slot on the leader, its own member slot at its current LSN) and
 * `retain_slots` (member slot names seen within `member_slots_ttl`, so replicas keep the slot of a
 * member whose key is briefly gone). Patroni 4 replicas advance their copies of member slots from
 * these positions; without them a 4.x replica's copies would hold WAL forever. With
 * `member_slots_ttl: 0` only permanent slots are published, as in Patroni 3.
 */
import type { Cluster } from '../model/cluster.js';
import { slotNameFromMemberName } from '../model/names.js';

export interface StatusSlotsInput {
  readonly cluster: Cluster;
  /** This leader's member name. */
  readonly myName: string;
  /** Slot positions read from pg_replication_slots (null: not read, e.g. PostgreSQL < 11). */
  readonly slots: Readonly<Record<string, number>> | null;
  readonly lastLsn: number;
  /** Seconds; `member_slots_ttl` from the dynamic configuration (Patroni's default 1800). */
  readonly memberSlotsTtl: number;
  /** Unix seconds. */
  readonly now: number;
}

export interface StatusSlotsValue {
  readonly slots: Record<string, number> | null;
  readonly retainSlots: string[] | null;
}

/** member_slots_ttl as Patroni reads it from `/config`: seconds (or with a unit), default 1800, 0 turns retention off. */
export function memberSlotsTtlOf(cluster: Cluster): number {
  const v = cluster.config?.data.member_slots_ttl;
  // A number of seconds, or with a unit as Patroni's IntValidator takes it (`30min`, `1h`, `90s`).
  const m = typeof v === 'string' ? /^\s*(\d+)\s*(s|sec|min|h|d)?\s*$/.exec(v) : null;
  const unit = { s: 1, sec: 1, min: 60, h: 3600, d: 86400 }[m?.[2] ?? 's'] ?? 1;
  const n = typeof v === 'number' ? v : m ? Number(m[1]) * unit : NaN;
  return Number.isFinite(n) && n >= 0 ? n : 1800;
}

/** Remembers when each member slot was last seen, across HA loops of one leader. */
export class StatusSlots {
  private readonly seen = new Map<string, number>();

  /** A new leader starts from the `retain_slots` in `/status`, their retention counted from now. */
  reset(names: readonly string[] | null, now: number): void {
    this.seen.clear();
    for (const n of names ?? []) this.seen.set(n, now);
  }

  build(i: StatusSlotsInput): StatusSlotsValue {
    const all: Record<string, number> | null = i.slots ? { ...i.slots, [slotNameFromMemberName(i.myName)]: i.lastLsn } : null;
    const permanentOnly = all ? i.cluster.filterPermanentSlots(all, false, 150000) : null;
    const published = all && i.memberSlotsTtl > 0 ? all : permanentOnly;
    if (all && Object.keys(all).length) {
      const members = new Set<string>();
      let foundSelf = false;
      for (const m of i.cluster.members) {
        if (m.name === i.myName) foundSelf = true;
        if (!m.nostream) members.add(slotNameFromMemberName(m.name));
      }
      // Without our own member key we cannot read our tags: count our slot in (briefly), as Patroni does.
      if (!foundSelf) members.add(slotNameFromMemberName(i.myName));
      const permanent = new Set(Object.keys(permanentOnly!));
      for (const name of Object.keys(all)) if (members.has(name) && !permanent.has(name)) this.seen.set(name, i.now);
    }
    for (const [name, at] of this.seen) if (at + i.memberSlotsTtl <= i.now) this.seen.delete(name);
    const retain = [...this.seen.keys()].sort();
    return { slots: published && Object.keys(published).length ? published : null, retainSlots: retain.length ? retain : null };
  }
}
