import { isPlainObject, truthy } from '../util/json.js';
import { Member, compareVersions } from './member.js';
import { SLOT_NAME_RE, slotNameFromMemberName } from './names.js';
import { ClusterConfig, Failover, Leader, Status, SyncState, TimelineHistory } from './values.js';

/** pg_replication_slot_advance() exists from PostgreSQL 11: permanent logical slots need it. */
export const SLOT_ADVANCE_AVAILABLE_VERSION = 110000;

export type SlotSpec = Record<string, unknown> & { type?: string };

export interface ClusterInit {
  initialize?: string | null;
  config?: ClusterConfig | null;
  leader?: Leader | null;
  status?: Status;
  members?: Member[];
  failover?: Failover | null;
  sync?: SyncState;
  history?: TimelineHistory | null;
  failsafe?: Record<string, string> | null;
}

/** One consistent view of the cluster as read from the DCS. Immutable. */
export class Cluster {
  readonly initialize: string | null;
  readonly config: ClusterConfig | null;
  readonly leader: Leader | null;
  readonly status: Status;
  readonly members: readonly Member[];
  readonly failover: Failover | null;
  readonly sync: SyncState;
  readonly history: TimelineHistory | null;
  readonly failsafe: Record<string, string> | null;

  constructor(init: ClusterInit = {}) {
    this.initialize = init.initialize ?? null;
    this.config = init.config ?? null;
    this.leader = init.leader ?? null;
    this.status = init.status ?? Status.empty();
    this.members = [...(init.members ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.failover = init.failover ?? null;
    this.sync = init.sync ?? SyncState.empty();
    this.history = init.history ?? null;
    this.failsafe = init.failsafe ?? null;
  }

  static empty(): Cluster { return new Cluster(); }

  /** True when nothing at all is stored for this scope. */
  isEmpty(): boolean {
    return this.initialize === null && !this.config && !this.leader && this.status.lastLsn === 0 &&
      this.members.length === 0 && !this.failover && this.sync.isEmpty && !this.history && !this.failsafe;
  }

  isUnlocked(): boolean { return !this.leaderName; }
  get leaderName(): string | null { return this.leader?.name || null; }
  get lastLsn(): number { return this.status.lastLsn; }
  get slots(): Record<string, number> { return this.status.slots ?? {}; }

  hasMember(name: string): boolean { return this.members.some((m) => m.name === name); }

  getMember(name: string, fallbackToLeader = true): Member | Leader | null {
    return this.members.find((m) => m.name === name) ?? (fallbackToLeader ? this.leader : null);
  }

  /** A random running member tagged `clonefrom` (not me, not the leader), else the leader. */
  getCloneMember(excludeName: string, random: () => number = Math.random): Member | Leader | null {
    const exclude = new Set([excludeName, ...(this.leader ? [this.leader.name] : [])]);
    const candidates = this.members.filter((m) => m.clonefrom && m.isRunning && !exclude.has(m.name));
    if (candidates.length) return candidates[Math.floor(random() * candidates.length)]!;
    return this.leader;
  }

  /** Cluster timeline from `/history`: 0 when absent or malformed, 1 for `[]`, else last + 1. */
  get timeline(): number {
    const h = this.history;
    if (h) {
      if (h.lines.length) {
        const first = h.lines[h.lines.length - 1]![0];
        const n = typeof first === 'number' ? first : typeof first === 'string' && /^\s*-?\d+\s*$/.test(first) ? Number(first) : NaN;
        if (Number.isInteger(n)) return n + 1;
      } else if (h.value === '[]') return 1;
    }
    return 0;
  }

  /** Lowest Patroni version among members, or null. */
  get minVersion(): number[] | null {
    const versions = this.members.map((m) => m.patroniVersion).filter((v): v is number[] => !!v);
    versions.sort(compareVersions);
    return versions[0] ?? null;
  }

  get useSlots(): boolean {
    if (!this.config) return false;
    const pg = this.config.data.postgresql;
    const v = isPlainObject(pg) ? pg.use_slots : undefined;
    return v === undefined ? true : truthy(v);
  }

  /** Untyped slots with database+plugin are logical (as the merge later types them), else physical. */
  static isPhysicalSlot(value: unknown): boolean {
    if (!truthy(value)) return true;
    if (!isPlainObject(value)) return false;
    if (value.type !== undefined) return value.type === 'physical';
    return !(truthy(value.database) && truthy(value.plugin));
  }

  static isLogicalSlot(value: unknown): boolean {
    return isPlainObject(value) && (value.type ?? 'logical') === 'logical' && truthy(value.database) && truthy(value.plugin);
  }

  private get permanentSlotsConfig(): Record<string, unknown> { return this.config?.permanentSlots ?? {}; }

  private pick(pred: (v: unknown) => boolean): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.permanentSlotsConfig).filter(([, v]) => pred(v)));
  }

  private getPermanentSlots(o: { isStandbyCluster: boolean; role: string; nofailover: boolean; majorVersion: number }): Record<string, unknown> {
    if (!this.useSlots || o.nofailover) return {};
    const canAdvance = o.majorVersion >= SLOT_ADVANCE_AVAILABLE_VERSION;
    if (o.isStandbyCluster) return canAdvance || o.role === 'standby_leader' ? this.pick(Cluster.isPhysicalSlot) : {};
    return canAdvance || ['master', 'primary'].includes(o.role) ? this.permanentSlotsConfig : this.pick(Cluster.isLogicalSlot);
  }

  /**
   * Physical slots for members that stream from this node. On a primary: everybody except members
   * whose `replicatefrom` names another existing member. On a replica: members cascading from it.
   */
  private getMembersSlots(myName: string, role: string, errors?: string[]): Record<string, SlotSpec> {
    if (!this.useSlots) return {};
    let members = this.members.filter((m) => m.name !== myName);
    if (['master', 'primary', 'standby_leader'].includes(role)) {
      members = members.filter((m) => !m.replicatefrom || m.replicatefrom === myName || !this.hasMember(m.replicatefrom));
    } else {
      members = members.filter((m) => m.replicatefrom === myName && m.name !== this.leaderName);
    }
    const slots: Record<string, SlotSpec> = {};
    const byName = new Map<string, string[]>();
    for (const m of members) {
      const slot = slotNameFromMemberName(m.name);
      slots[slot] = { type: 'physical' };
      byName.set(slot, [...(byName.get(slot) ?? []), m.name]);
    }
    if (Object.keys(slots).length < members.length && errors) {
      const conflicts = [...byName].filter(([, v]) => v.length > 1).map(([k, v]) => `${v.join(', ')} map to ${k}`);
      errors.push(`Following cluster members share a replication slot name: ${conflicts.join('; ')}`);
    }
    return slots;
  }

  /** Merge permanent slots into `slots`; returns logical slots disabled because PostgreSQL < 11. */
  private mergePermanentSlots(slots: Record<string, SlotSpec>, permanent: Record<string, unknown>, myName: string,
    majorVersion: number, errors?: string[]): string[] {
    const disabled: string[] = [];
    const mySlot = slotNameFromMemberName(myName);
    for (const [name, raw] of Object.entries(permanent)) {
      if (!SLOT_NAME_RE.test(name)) {
        errors?.push(`Invalid permanent replication slot name '${name}'`);
        continue;
      }
      const value: unknown = truthy(raw) ? structuredClone(raw) : { type: 'physical' };
      if (isPlainObject(value)) {
        const spec = value as SlotSpec;
        if (!('type' in spec)) spec.type = truthy(spec.database) && truthy(spec.plugin) ? 'logical' : 'physical';
        if (spec.type === 'physical') {
          if (name !== mySlot) slots[name] = spec; // never a permanent physical slot for yourself
          continue;
        }
        if (Cluster.isLogicalSlot(spec)) {
          if (majorVersion < SLOT_ADVANCE_AVAILABLE_VERSION) disabled.push(name);
          else if (name in slots) errors?.push(`Permanent logical replication slot '${name}' is conflicting with physical replication slot for cluster member`);
          else slots[name] = spec;
          continue;
        }
      }
      errors?.push(`Bad value for slot '${name}' in permanent_slots: ${JSON.stringify(raw)}`);
    }
    return disabled;
  }

  /** Slots that should exist on this node: members' physical slots merged with permanent slots. */
  getReplicationSlots(myName: string, role: string, nofailover: boolean, majorVersion: number,
    opts: { isStandbyCluster?: boolean; showError?: boolean; errors?: string[] } = {}): Record<string, SlotSpec> {
    const errors = opts.errors ?? [];
    const slots = this.getMembersSlots(myName, role, errors);
    const permanent = this.getPermanentSlots({ isStandbyCluster: !!opts.isStandbyCluster, role, nofailover, majorVersion });
    const disabled = this.mergePermanentSlots(slots, permanent, myName, majorVersion, errors);
    if (disabled.length && opts.showError) {
      errors.push(`Permanent logical replication slots supported by Patroni only starting from PostgreSQL 11. Following slots will not be created: ${disabled.join(', ')}.`);
    }
    return slots;
  }

  hasPermanentSlots(myName: string, opts: { isStandbyCluster?: boolean; nofailover?: boolean; majorVersion?: number } = {}): boolean {
    const majorVersion = opts.majorVersion ?? SLOT_ADVANCE_AVAILABLE_VERSION;
    const membersSlots = this.getMembersSlots(myName, 'replica');
    const permanent = this.getPermanentSlots({ isStandbyCluster: !!opts.isStandbyCluster, role: 'replica', nofailover: !!opts.nofailover, majorVersion });
    const slots = structuredClone(membersSlots);
    this.mergePermanentSlots(slots, permanent, myName, majorVersion);
    return Object.keys(slots).length > Object.keys(membersSlots).length || Object.values(permanent).some(Cluster.isPhysicalSlot);
  }

  /** Keep only slots known to be permanent (the leader publishes their LSN in `/status`). */
  filterPermanentSlots(slots: Record<string, number>, isStandbyCluster: boolean, majorVersion: number): Record<string, number> {
    const permanent = this.getPermanentSlots({ isStandbyCluster, role: 'replica', nofailover: false, majorVersion });
    const memberSlots = new Set(this.members.map((m) => slotNameFromMemberName(m.name)));
    return Object.fromEntries(Object.entries(slots).filter(([name]) => name in permanent &&
      (Cluster.isPhysicalSlot(permanent[name]) || (Cluster.isLogicalSlot(permanent[name]) && !memberSlots.has(name)))));
  }

  /**
   * The slot this node's WAL stream uses on the primary. With cascading (P <- I <- L) it is the slot
   * of the intermediate member that connects the chain to the primary.
   */
  getMySlotNameOnPrimary(myName: string, replicatefrom: string | null | undefined): string {
    const seen = new Set<string>();
    let name = myName;
    let from = replicatefrom ?? null;
    for (;;) {
      seen.add(name);
      const m = from ? this.getMember(from, false) : null;
      if (!(m instanceof Member) || seen.has(m.name)) return slotNameFromMemberName(name);
      name = m.name;
      from = m.replicatefrom;
    }
  }

  /** hot_standby_feedback is needed when this node, or a replica cascading from it, has permanent logical slots. */
  shouldEnforceHotStandbyFeedback(myName: string, nofailover: boolean, seen = new Set<string>()): boolean {
    const slots = this.getReplicationSlots(myName, 'replica', nofailover, SLOT_ADVANCE_AVAILABLE_VERSION);
    if (Object.values(slots).some((v) => v.type === 'logical')) return true;
    if (!this.useSlots) return false;
    seen.add(myName);
    return this.members
      .filter((m) => m.replicatefrom === myName && m.name !== this.leaderName && !seen.has(m.name))
      .some((m) => this.shouldEnforceHotStandbyFeedback(m.name, m.nofailover, seen));
  }
}
