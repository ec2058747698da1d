/**
 * What must hold in a simulated cluster: after every step, at most one server accepts writes and at
 * most one member believes it is the primary with a valid lock; at the end (faults over, quiet
 * time given) one leader runs as primary and every other member streams from it. Durability is a
 * hook: async replication may lose writes on a failover, so which writes must survive is for the
 * caller to say (the sync-mode work plugs in here; the clean-handover check is one).
 */
import type { SimCluster } from './cluster.js';

export interface Durability {
  /** Checked after every step; a message when broken. */
  step?(sim: SimCluster): string | null;
  /** Checked once at the end. */
  end?(sim: SimCluster): string | null;
}

export function checkSafety(sim: SimCluster): string | null {
  const writable = sim.nodes.filter((n) => n.pg.isPrimary);
  if (writable.length > 1) return `split brain: ${writable.map((n) => n.name).join(' and ')} both accept writes`;
  const believers = sim.nodes.filter((n) => n.agent && n.agent.isLeader() && n.pg.isPrimary);
  if (believers.length > 1) return `${believers.map((n) => n.name).join(' and ')} both believe they are the primary with a valid lock`;
  return null;
}

export function checkConvergence(sim: SimCluster): string | null {
  const leader = sim.leaderName();
  if (!leader) return 'no leader after the quiet period';
  const l = sim.node(leader);
  if (!l.pg.isPrimary) return `the leader ${leader} is not a running primary (${l.pg.state})`;
  for (const n of sim.nodes) {
    if (n.name === leader) continue;
    if (!n.agent) return `${n.name}: the agent is not running`;
    if (!n.pg.up || !n.pg.inRecovery) return `${n.name} is not a running replica (${n.pg.state}, in recovery: ${n.pg.inRecovery})`;
    // nostream: nobody; replicatefrom: that member while it runs (cascading); else the leader.
    const rf = typeof n.tags.replicatefrom === 'string' && n.tags.replicatefrom !== n.name && sim.node(n.tags.replicatefrom)?.agent ? n.tags.replicatefrom : null;
    const expected = n.tags.nostream ? null : rf ?? leader;
    if (expected === null) {
      if (n.pg.upstream !== null || n.pg.streaming) return `${n.name} has nostream but streams from ${n.pg.upstream}`;
    } else if (n.pg.upstream !== expected || !n.pg.streaming) {
      return `${n.name} does not stream from ${expected} (upstream ${n.pg.upstream}, streaming ${n.pg.streaming}, position ${n.pg.position} vs ${l.pg.position})`;
    }
  }
  return null;
}

/** Every write `mustSurvive` selects is in the final leader's WAL. */
export function noWriteLost(mustSurvive: (w: { id: string; node: string; at: number }) => boolean): Durability {
  return {
    end(sim) {
      const leader = sim.leaderName();
      const wal = new Set(leader ? sim.node(leader).pg.wal ?? [] : []);
      const lost = sim.writes.filter((w) => mustSurvive(w) && !wal.has(w.id));
      return lost.length ? `${lost.length} acknowledged writes lost (first ${lost[0]!.id} on ${lost[0]!.node} at t=${lost[0]!.at / 1000} s)` : null;
    },
  };
}
