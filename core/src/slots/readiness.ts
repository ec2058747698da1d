/**
 * Is a copied logical slot safe to use after a failover? (Patroni's check_logical_slots_readiness.)
 * A copy is only as good as the catalog rows it needs: the primary keeps them for this replica
 * through hot_standby_feedback on the replica's physical slot. The copy is safe once that physical
 * slot's catalog_xmin is valid and lies between the primary's logical slot catalog_xmin (remembered
 * when the physical one became valid) and the copy's own catalog_xmin. Until then a promotion warns.
 */

/** xids as PostgreSQL prints them; null when unset. */
export type Xid = string | null;

const n = (x: Xid): number | null => (x === null || x === undefined || x === '' ? null : Number(x));

/**
 * Names of pending slots that are now safe. `pending`: slot -> the primary's logical catalog_xmin
 * remembered for it (null: not yet known); `physical`: the catalog_xmin of this replica's physical
 * slot on the primary; `standby`: the copies' catalog_xmin here (absent: the copy is gone).
 */
export function readyLogicalSlots(pending: ReadonlyMap<string, Xid>, physical: Xid, standby: ReadonlyMap<string, Xid>): string[] {
  const phys = n(physical);
  const ready: string[] = [];
  for (const [name, primaryXmin] of pending) {
    if (!standby.has(name)) {
      ready.push(name); // nothing to protect any more
      continue;
    }
    const p = n(primaryXmin);
    const s = n(standby.get(name) ?? null);
    if (phys !== null && p !== null && s !== null && p <= phys && phys <= s) ready.push(name);
  }
  return ready;
}
