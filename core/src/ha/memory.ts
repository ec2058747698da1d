/**
 * How events change the agent's memory: the one reducer `decide` applies before deciding (and the
 * agent uses, without keeping the result, to publish the role between cycles). Pure.
 */
import type { AgentMemory, HaEvent } from './types.js';

/** Fold one event into memory. */
export function applyEvent(m: AgentMemory, e: HaEvent): AgentMemory {
  switch (e.type) {
    case 'long_action_started': {
      const next: AgentMemory = { ...m, longAction: { name: e.name, label: e.label, since: e.since } };
      switch (e.name) {
        case 'bootstrap': return { ...next, bootstrap: 'running', role: 'uninitialized' };
        case 'clone':
        case 'reinitialize': return { ...next, role: 'uninitialized' };
        // A start attempt: the next cycles judge whether it came up (primary_start_timeout counts from here).
        case 'start': return { ...next, recovering: true, startedAt: e.since };
        default: return next;
      }
    }
    case 'long_action_done': {
      const next: AgentMemory = { ...m, longAction: null };
      switch (e.name) {
        case 'bootstrap': return { ...next, bootstrap: e.ok ? 'started' : 'failed', role: e.ok ? null : next.role };
        case 'post_bootstrap': return { ...next, bootstrap: e.ok ? 'post_done' : 'failed' };
        case 'clone': return { ...next, role: e.ok ? 'replica' : 'uninitialized' };
        case 'reinitialize': return { ...next, rewind: 'unknown', demoted: false, role: e.ok ? 'replica' : 'uninitialized' };
        case 'promote':
          if (e.ok) return { ...next, demoted: false, rewind: 'unknown', role: 'primary' };
          return e.failure === 'PrePromoteFailed' ? { ...next, prePromoteFailed: true } : next;
        case 'start':
          if (!e.ok) return { ...next, startFailed: true };
          // A fresh start: whether it streams from the leader is worth checking again.
          return e.role === 'replica' || e.role === 'standby_leader'
            ? { ...next, startFailed: false, demoted: false, rewind: 'unknown', role: e.role, divergenceCheckedFor: null }
            : { ...next, startFailed: false, role: e.role ?? next.role };
        case 'rewind': return { ...next, rewind: e.ok ? 'done' : 'failed', divergenceCheckedFor: null };
        default: return next;
      }
    }
    case 'demoted':
      // A graceful demotion keeps publishing `primary` until the key is handed over (leader_released).
      return { ...m, demoted: true, rewind: 'unknown', role: e.mode === 'graceful' ? m.role : 'demoted' };
    case 'leader_released':
      return { ...m, role: 'demoted' };
    case 'divergence':
      if (e.result === 'unknown') return e.checkedFor ? { ...m, divergenceCheckedFor: e.checkedFor, divergenceFailedAt: e.at ?? 0 } : m;
      return { ...m, rewind: e.result, divergenceFailedAt: null, ...(e.checkedFor ? { divergenceCheckedFor: e.checkedFor } : {}) };
    case 'bootstrap_finished':
      return { ...m, bootstrap: 'none', role: 'primary' };
    case 'race_unanswered':
      return { ...m, raceUnanswered: true };
    case 'bootstrap_lost':
      return { ...m, bootstrap: 'none', role: 'uninitialized', startedAt: null };
    case 'start_deadline':
      return { ...m, recovering: true, startedAt: e.since, startTimeout: e.seconds };
    case 'member_published':
      return { ...m, prevWalPosition: e.walPosition };
    case 'lock':
      return m;
  }
}

export function applyEvents(m: AgentMemory, events: readonly HaEvent[] | undefined): AgentMemory {
  return (events ?? []).reduce(applyEvent, m);
}

/**
 * The role Patroni publishes (member key, GET /patroni, callbacks): `demoted` after a demotion until
 * the next start or promotion; `uninitialized` while PGDATA is being created; else what the running
 * server says (`live`: primary/replica from pg_is_in_recovery, null when not queryable); else the
 * last role it ran in; else replica (or uninitialized without data).
 */
export function publishedRole(m: AgentMemory, live: 'primary' | 'replica' | null, dataDirEmpty: boolean | (() => boolean)): string {
  if (m.role === 'demoted') return 'demoted';
  // The running server cannot tell a standby leader from a replica: memory can.
  if (live === 'replica' && m.role === 'standby_leader') return 'standby_leader';
  if (live) return live;
  if (m.role) return m.role;
  return (typeof dataDirEmpty === 'function' ? dataDirEmpty() : dataDirEmpty) ? 'uninitialized' : 'replica';
}
