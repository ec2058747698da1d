/**
 * decide()'s slot maintenance (Patroni's step 13) as a pure function of the cycle's input: the slots
 * this node must have (desired.ts, from the DCS view and the settings) against the ones PostgreSQL
 * reported (PgFacts.slots) give the operations of one `sync_slots` action, or none when nothing is
 * to be done. Only for a running, started PostgreSQL whose slots could be read.
 */
import type { Cluster } from '../model/cluster.js';
import type { Action, HaInput } from '../ha/types.js';
import { desiredSlots, type SlotNode } from './desired.js';
import { planSlots } from './plan.js';

/** Patroni 4's member_slots_ttl default (30min). */
export const DEFAULT_MEMBER_SLOTS_TTL = 1800;

export function slotNode(input: HaInput): SlotNode {
  const { pg, name, tags } = input;
  return {
    name, nofailover: tags.nofailover, nostream: tags.nostream, replicatefrom: tags.replicatefrom,
    role: pg.inRecovery === false ? 'primary' : 'replica', majorVersion: pg.serverVersion ?? 0,
    memberSlotsTtl: input.settings.memberSlotsTtl ?? DEFAULT_MEMBER_SLOTS_TTL,
  };
}

export function slotsAction(input: HaInput, cluster: Cluster): Action | null {
  const { pg } = input;
  if (!cluster.config || !pg.running || pg.starting || !pg.slots || !pg.serverVersion) return null;
  const errors: string[] = [];
  const desired = desiredSlots(cluster, slotNode(input), errors);
  const plan = planSlots({
    desired, existing: pg.slots, isPrimary: pg.inRecovery === false, paused: input.settings.paused,
    ignore: cluster.config.ignoreSlotsMatchers, majorVersion: pg.serverVersion, replayLsn: pg.replayLsn ?? null,
    // Stale-xmin copies are dropped only with a leader, and not by a lock holder still in recovery.
    cleanInactivePhysical: !!cluster.leaderName && (cluster.leaderName !== input.name || pg.inRecovery === false),
    lostCopies: pg.lostSlotCopies ?? [],
  });
  // The copy needs a leader to copy from, and is never done by the leader itself.
  const copy = cluster.leaderName && cluster.leaderName !== input.name ? plan.copy : [];
  if (!plan.ops.length && !copy.length && !errors.length) return null;
  return { type: 'sync_slots', ops: plan.ops, copy, errors };
}
