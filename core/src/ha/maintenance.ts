/**
 * Upkeep that rides on every cycle's plan, decided like everything else: stand the fence down when
 * this node is no longer a primary holding the key, keep replication slots matching the members,
 * and run a scheduled restart once it falls due.
 */
import { publishedRole } from './memory.js';
import type { Action, HaInput, LongActionName, Plan } from './types.js';

/** Actions that start a long action (nothing else may start in the same cycle). */
const STARTS_LONG: ReadonlySet<string> = new Set(['bootstrap', 'post_bootstrap', 'clone', 'promote', 'start', 'rewind', 'reinitialize']);
const startsLong = (a: Action) => STARTS_LONG.has(a.type) || (a.type === 'demote' && a.mode === 'graceful');
const busy = (input: HaInput, p: Plan) => input.memory.longAction !== null || p.actions.some(startsLong);

/** The fence guards a primary that holds the key; once neither holds (or in pause) it stands down. */
export function fenceMayStandDown(input: HaInput): boolean {
  const { cluster, pg, memory, settings, name } = input;
  if (!input.fence) return false;
  if (settings.paused) return true;
  const demoting: LongActionName | undefined = memory.longAction?.name;
  return !!cluster && cluster.leaderName !== name && (!pg.running || pg.inRecovery === true) && demoting !== 'demote';
}

/** Physical slots to create and drop so that members stream from the slots they expect (Patroni's step 13). */
export function slotChanges(input: HaInput): { create: string[]; drop: string[] } | null {
  const { cluster, pg, name } = input;
  if (!cluster || !pg.running || pg.starting || !pg.slots) return null;
  const role = cluster.leaderName === name ? 'primary' : 'replica';
  const slots = cluster.getReplicationSlots(name, role, input.tags.nofailover, pg.serverVersion ?? 150000);
  const wanted = Object.entries(slots).filter(([, v]) => v.type === 'physical').map(([k]) => k);
  const ignored = new Set((cluster.config?.ignoreSlotsMatchers ?? []).map((m) => m.name));
  const have = new Set(pg.slots.map((s) => s.name));
  const create = wanted.filter((n) => !have.has(n));
  const drop = pg.slots.filter((s) => s.type === 'physical' && !s.active && !wanted.includes(s.name) && !ignored.has(s.name)).map((s) => s.name);
  return create.length || drop.length ? { create, drop } : null;
}

/** A due scheduled restart: run it, or drop it when its role filter no longer matches. */
export function scheduledRestart(input: HaInput): Action | null {
  const sched = input.scheduledRestart;
  if (!sched || input.settings.paused || sched.at > input.now) return null;
  const live = input.pg.running && input.pg.inRecovery !== null ? (input.pg.inRecovery ? 'replica' : 'primary') : null;
  const mine = publishedRole(input.memory, live, input.pg.dataDirEmpty);
  if (sched.role && !(sched.role === mine || (sched.role === 'master' && mine === 'primary'))) {
    return { type: 'scheduled_restart', skip: `role ${mine} does not match ${sched.role}` };
  }
  return { type: 'scheduled_restart' };
}

/** What to run before and after a plan's own actions. */
export function maintenance(input: HaInput, p: Plan): { before: Action[]; after: Action[] } {
  const before: Action[] = fenceMayStandDown(input) ? [{ type: 'stand_down_fence' }] : [];
  const after: Action[] = [];
  if (!busy(input, p)) {
    const slots = slotChanges(input);
    if (slots) after.push({ type: 'sync_slots', ...slots });
    const restart = scheduledRestart(input);
    if (restart) after.push(restart);
  }
  return { before, after };
}
