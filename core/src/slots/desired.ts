/**
 * Which replication slots a node must have, with the position each should be at (Patroni 4.1's
 * Cluster.get_replication_slots, read from its source and restated here as pure functions):
 *
 *  - member slots (physical, named after the member): on a primary for every member streaming from
 *    it; on a replica for members cascading from it. With `member_slots_ttl > 0` (the default, 30min)
 *    every failover-capable node keeps a slot for EVERY member, inactive ones advanced from the
 *    positions the leader publishes in `/status` `slots`, so a new primary already holds them and
 *    its WAL is kept for every member; `/status` `retain_slots` keeps slots of members briefly absent;
 *  - permanent slots (`slots:` in /config): physical and logical; never on a `nofailover` node,
 *    never a physical slot named after this node, `cluster_type` respected;
 *  - `lsn`: where an inactive copy should be advanced to (from `/status` `slots`, or, for members
 *    streaming from a cascade, the member's own `xlog_location`).
 */
import type { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { SLOT_NAME_RE, slotNameFromMemberName } from '../model/names.js';
import { isPlainObject, truthy } from '../util/json.js';

export type NodeRole = 'primary' | 'replica' | 'standby_leader';

export type DesiredSlot =
  | { readonly type: 'physical'; readonly lsn?: number; readonly expectedActive?: boolean }
  | { readonly type: 'logical'; readonly database: string; readonly plugin: string; readonly lsn?: number };

export interface SlotNode {
  readonly name: string;
  readonly role: NodeRole;
  readonly nofailover: boolean;
  readonly nostream?: boolean;
  readonly replicatefrom?: string | null;
  /** server_version_num; pg_replication_slot_advance() needs 11+. */
  readonly majorVersion: number;
  /** Seconds; 0 disables keeping slots for every member. */
  readonly memberSlotsTtl: number;
  readonly isStandbyCluster?: boolean;
}

export const canAdvanceSlots = (majorVersion: number) => majorVersion >= 110000;

const isLeaderRole = (role: NodeRole) => role === 'primary' || role === 'standby_leader';

/** The slot this node streams through on the primary (null: it does not stream, or a replicatefrom loop). */
export function slotNameOnPrimary(cluster: Cluster, name: string, tags: { nostream?: boolean; replicatefrom?: string | null }): string | null {
  const seen = new Set<string>();
  let cur = name;
  let t: { nostream?: boolean; replicatefrom?: string | null } = tags;
  for (;;) {
    seen.add(cur);
    if (t.nostream) return null;
    const from = t.replicatefrom && t.replicatefrom !== cur ? cluster.getMember(t.replicatefrom, false) : null;
    if (!(from instanceof Member)) return slotNameFromMemberName(cur);
    if (seen.has(from.name)) return null;
    cur = from.name;
    t = { nostream: from.nostream, replicatefrom: from.replicatefrom };
  }
}

function isPhysical(value: unknown): boolean {
  if (!truthy(value)) return true;
  if (!isPlainObject(value)) return false;
  if (value.type !== undefined) return value.type === 'physical';
  return !(truthy(value.database) && truthy(value.plugin));
}

function isLogical(value: unknown): boolean {
  return isPlainObject(value) && (value.type ?? 'logical') === 'logical' && truthy(value.database) && truthy(value.plugin);
}

/** Permanent slots from /config with their known position (`lsn` in the config itself is never trusted). */
function permanentSlots(cluster: Cluster, node: SlotNode): Record<string, unknown> {
  const config = cluster.config?.permanentSlots ?? {};
  const memberLsn = new Map(cluster.members.filter((m) => m.replicatefrom).map((m) => [slotNameFromMemberName(m.name), m.lsn ?? 0]));
  const published = cluster.slots;
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(config)) {
    const value: Record<string, unknown> = isPlainObject(raw) ? { ...raw } : raw ? (raw as never) : {};
    if (!isPlainObject(value)) {
      out[name] = raw;
      continue;
    }
    delete value.lsn;
    const lsn = Math.max(isPhysical(value) ? memberLsn.get(name) ?? 0 : 0, published[name] ?? 0);
    if (lsn) value.lsn = lsn;
    out[name] = value;
  }
  return out;
}

function permanentForNode(cluster: Cluster, node: SlotNode): Record<string, unknown> {
  if (!cluster.useSlots || node.nofailover) return {};
  const all = permanentSlots(cluster, node);
  const canAdvance = canAdvanceSlots(node.majorVersion);
  const standby = !!node.isStandbyCluster;
  const physicalOnly = () => Object.fromEntries(Object.entries(all).filter(([, v]) => isPhysical(v)
    && (isPlainObject(v) ? v.cluster_type : undefined) !== (standby ? 'primary' : 'standby')));
  if (standby || slotNameOnPrimary(cluster, node.name, node) === null) {
    return canAdvance || node.role === 'standby_leader' ? physicalOnly() : {};
  }
  if (canAdvance || node.role === 'primary') {
    const physical = physicalOnly();
    return Object.fromEntries(Object.entries(all).filter(([k, v]) => k in physical || !isPhysical(v)));
  }
  return Object.fromEntries(Object.entries(all).filter(([, v]) => isLogical(v)));
}

function memberSlots(cluster: Cluster, node: SlotNode, errors: string[]): Record<string, DesiredSlot> {
  if (!cluster.useSlots) return {};
  let members = cluster.members.filter((m) => m.name !== node.name && !m.nostream);
  const leaderFilter = (m: Member) => !m.replicatefrom || m.replicatefrom === node.name || !cluster.hasMember(m.replicatefrom);
  const replicaFilter = (m: Member) => m.replicatefrom === node.name && m.name !== cluster.leaderName;
  const expectedActive = isLeaderRole(node.role) ? leaderFilter : replicaFilter;
  if (canAdvanceSlots(node.majorVersion) && node.memberSlotsTtl > 0) {
    // A node that only cascades and can never lead keeps slots only for members that could connect to it.
    members = members.filter((m) => !node.nofailover || m.replicatefrom === node.name);
  } else {
    members = members.filter(expectedActive);
  }
  const leaderVersion = cluster.leader?.member instanceof Member ? cluster.leader.member.patroniVersion : null;
  const oldLeader = !!leaderVersion && (leaderVersion[0] ?? 0) < 4;
  const out: Record<string, DesiredSlot> = {};
  for (const m of members) {
    const slot = slotNameFromMemberName(m.name);
    let lsn = cluster.slots[slot] ?? 0;
    // The leader's slot for a cascading member does not move: the member's own position does.
    if (m.replicatefrom || oldLeader) lsn = Math.max(m.lsn ?? 0, lsn);
    out[slot] = { type: 'physical', lsn, expectedActive: expectedActive(m) };
  }
  const mine = slotNameFromMemberName(node.name);
  for (const slot of cluster.status.retainSlots ?? []) {
    if (!node.nofailover && !(slot in out) && slot !== mine) out[slot] = { type: 'physical' };
  }
  if (Object.keys(out).length < members.length) {
    const byName = new Map<string, string[]>();
    for (const m of members) byName.set(slotNameFromMemberName(m.name), [...(byName.get(slotNameFromMemberName(m.name)) ?? []), m.name]);
    errors.push(`Following cluster members share a replication slot name: ${[...byName].filter(([, v]) => v.length > 1).map(([k, v]) => `${v.join(', ')} map to ${k}`).join('; ')}`);
  }
  return out;
}

/**
 * Answers per Cluster (an immutable view, rebuilt only when the DCS content changed) and node: an
 * idle agent asks the same question several times a cycle, every cycle.
 */
const answers = new WeakMap<Cluster, Map<string, { slots: Readonly<Record<string, DesiredSlot>>; errors: readonly string[] }>>();

const nodeKey = (n: SlotNode) => JSON.stringify([n.name, n.role, n.nofailover, !!n.nostream, n.replicatefrom ?? null, n.majorVersion, n.memberSlotsTtl, !!n.isStandbyCluster]);

/** Every slot this node must have. `errors` collects configuration problems (logged by the caller). */
export function desiredSlots(cluster: Cluster, node: SlotNode, errors: string[] = []): Record<string, DesiredSlot> {
  let byNode = answers.get(cluster);
  if (!byNode) answers.set(cluster, (byNode = new Map()));
  const key = nodeKey(node);
  let hit = byNode.get(key);
  if (!hit) {
    const errs: string[] = [];
    hit = { slots: computeDesiredSlots(cluster, node, errs), errors: errs };
    byNode.set(key, hit);
  }
  errors.push(...hit.errors);
  return { ...hit.slots };
}

function computeDesiredSlots(cluster: Cluster, node: SlotNode, errors: string[]): Record<string, DesiredSlot> {
  const slots: Record<string, DesiredSlot> = memberSlots(cluster, node, errors);
  const mine = slotNameFromMemberName(node.name);
  const topology = new Map(cluster.members.map((m) => [slotNameFromMemberName(m.name), m.replicatefrom ? slotNameFromMemberName(m.replicatefrom) : null]));
  const disabled: string[] = [];
  for (const [name, raw] of Object.entries(permanentForNode(cluster, node))) {
    if (!SLOT_NAME_RE.test(name)) {
      errors.push(`Invalid permanent replication slot name '${name}': only lower case letters, numbers and the underscore`);
      continue;
    }
    const value = isPlainObject(raw) ? raw : raw ? null : {};
    if (value && isPhysical(value)) {
      // Never a permanent physical slot for myself; a member slot of the same name wins.
      if (!(name in slots) && name !== mine) {
        const lsn = typeof value.lsn === 'number' ? value.lsn : undefined;
        slots[name] = { type: 'physical', ...(lsn ? { lsn } : {}), expectedActive: !topology.get(name) && isLeaderRole(node.role) };
      }
      continue;
    }
    if (value && isLogical(value)) {
      if (!canAdvanceSlots(node.majorVersion)) disabled.push(name);
      else if (name in slots) errors.push(`Permanent logical replication slot '${name}' is conflicting with physical replication slot for cluster member`);
      else {
        const lsn = typeof value.lsn === 'number' ? value.lsn : undefined;
        slots[name] = { type: 'logical', database: String(value.database), plugin: String(value.plugin), ...(lsn ? { lsn } : {}) };
      }
      continue;
    }
    errors.push(`Bad value for slot '${name}' in permanent_slots: ${JSON.stringify(raw)}`);
  }
  if (disabled.length) errors.push(`Permanent logical replication slots supported only starting from PostgreSQL 11. Following slots will not be created: ${disabled.join(', ')}.`);
  return slots;
}

/** hot_standby_feedback must be on where this node, or a replica cascading from it, has permanent logical slots. */
export function needsHotStandbyFeedback(cluster: Cluster, node: SlotNode, seen = new Set<string>()): boolean {
  if (node.isStandbyCluster || !canAdvanceSlots(node.majorVersion)) return false;
  const own = desiredSlots(cluster, { ...node, role: 'replica' });
  if (Object.values(own).some((s) => s.type === 'logical')) return true;
  if (!cluster.useSlots || slotNameOnPrimary(cluster, node.name, node) === null) return false;
  seen.add(node.name);
  return cluster.members
    .filter((m) => m.replicatefrom === node.name && m.name !== cluster.leaderName && !seen.has(m.name))
    .some((m) => needsHotStandbyFeedback(cluster, { ...node, name: m.name, nofailover: m.nofailover, nostream: m.nostream, replicatefrom: m.replicatefrom }, seen));
}

/**
 * The postgresql section with hot_standby_feedback forced on when this node must keep logical slots
 * safe (Patroni writes it into postgresql.conf then): the primary must not remove catalog rows the
 * replica's copies still need.
 */
export function withSlotRequirements<T extends Readonly<Record<string, unknown>>>(postgresql: T, enforceHotStandbyFeedback: boolean): T {
  if (!enforceHotStandbyFeedback) return postgresql;
  const params = isPlainObject(postgresql.parameters) ? postgresql.parameters : {};
  return { ...postgresql, parameters: { ...params, hot_standby_feedback: 'on' } };
}
