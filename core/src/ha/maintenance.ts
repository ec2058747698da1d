/**
 * Upkeep that rides on every cycle's plan, decided like everything else: stand the fence down when
 * this node is no longer a primary holding the key, keep replication slots matching the members,
 * and run a scheduled restart once it falls due.
 */
import { slotsAction } from '../slots/decide.js';
import { publishedRole } from './memory.js';
import { restartMismatch } from './restart-filters.js';
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
  // A standby cluster's lock holder is no primary either: nothing to fence once it stopped being one.
  const holdsPrimaryLock = cluster?.leaderName === name && !settings.standbyCluster;
  return !!cluster && !holdsPrimaryLock && (!pg.running || pg.inRecovery === true) && demoting !== 'demote';
}

/** A due scheduled restart: run it, or drop it when its filters (role, postgres_version, restart_pending) no longer match. */
export function scheduledRestart(input: HaInput): Action | null {
  const sched = input.scheduledRestart;
  if (!sched || input.settings.paused || sched.at > input.now) return null;
  const live = input.pg.running && input.pg.inRecovery !== null ? (input.pg.inRecovery ? 'replica' : 'primary') : null;
  const mine = publishedRole(input.memory, live, input.pg.dataDirEmpty);
  const skip = restartMismatch(sched, { role: mine, serverVersion: input.pg.serverVersion ?? null, pendingRestart: !!sched.pendingNow });
  return skip ? { type: 'scheduled_restart', skip } : { type: 'scheduled_restart' };
}

/** What to run before and after a plan's own actions. */
export function maintenance(input: HaInput, p: Plan): { before: Action[]; after: Action[] } {
  const before: Action[] = fenceMayStandDown(input) ? [{ type: 'stand_down_fence' }] : [];
  const after: Action[] = [];
  if (!busy(input, p)) {
    // Patroni's step 13 (core/src/slots/decide.ts): create, drop and advance slots, copy logical ones.
    const stopping = p.actions.some((a) => a.type === 'demote' || a.type === 'stop');
    const slots = input.cluster && !stopping ? slotsAction(input, input.cluster) : null;
    if (slots) after.push(slots);
    const restart = scheduledRestart(input);
    if (restart) after.push(restart);
  }
  return { before, after };
}
