/**
 * Quorum commit (`synchronous_mode: quorum`, Patroni 4): PostgreSQL waits for `ANY N (S)`, `/sync`
 * names the voters V and `quorum` Q; a candidate must see Q+1 members of V ∪ {leader} (itself
 * included) none ahead of it. This planner is pgha's own: a short breadth-first search over
 * single-sided changes (either `/sync` or synchronous_standby_names), where every state passed
 * through keeps every acknowledged commit visible to any winning candidate.
 *
 * Why a state is safe. Write VL = V ∪ {leader}. "Commits of an era are on k members of H" (the
 * leader included in H and counted in k) and a candidate reads Q+1 members of VL: they share a
 * member whenever |VL ∪ H| <= Q + k. Two eras matter:
 *  - since synchronous_standby_names last changed: H = S ∪ {me}, k = N + 1;
 *  - before that change: the standbys that reached the flush LSN of the change (`ready`, T) hold it
 *    all: H = T ∪ {me}, k = |T| + 1; or, without such standbys yet, a `/sync` that only grew from
 *    the safe one in force (voters added, Q raised by as many) still reads one of the old readers.
 * VL = {me} alone is always safe: only the leader itself can win.
 */
import { formatSyncStandbyNames, names, type SyncSnapshot } from './sync.js';
import type { SyncKey, SyncStep } from './sync-steps.js';

export interface QuorumInput {
  readonly me: string;
  readonly key: SyncKey;
  readonly state: SyncSnapshot;
  /** 1 with synchronous_mode_strict. */
  readonly minNodes: number;
  /** synchronous_node_count. */
  readonly wanted: number;
}

interface Dcs { readonly leader: string; readonly voters: readonly string[]; readonly quorum: number }
interface Guc { readonly sync: readonly string[]; readonly num: number; readonly quorumType: boolean }
interface Node {
  readonly dcs: Dcs;
  readonly guc: Guc;
  /** The `/sync` in force when synchronous_standby_names last changed (the monotone reference). */
  readonly base: Dcs;
  readonly ready: readonly string[];
  readonly gucChanged: boolean;
  readonly path: readonly SyncStep[];
}

const uniq = (xs: readonly string[]) => xs.filter((x, i) => xs.findIndex((y) => y.toLowerCase() === x.toLowerCase()) === i);
const size = (...sets: Array<readonly string[]>) => uniq(sets.flat()).length;
const sameSet = names.equal;

/** The smallest safe Q for voters `voters` (me excluded) under `guc`, or null when none is usable. */
function minimalQuorum(me: string, voters: readonly string[], guc: Guc, base: Dcs, ready: readonly string[]): number | null {
  if (!voters.length) return 0;
  const vl = uniq([me, ...voters]);
  const current = size(vl, guc.sync, [me]) - guc.num - 1;
  // Older commits: on every standby that caught up since the change, or found by any reader set of
  // the `/sync` in force then (readers removed cost nothing; each one added raises Q by one).
  const baseVl = uniq([base.leader, ...base.voters]);
  const options = [base.quorum + names.minus(vl, baseVl).length];
  const trusted = names.intersect(ready, guc.sync);
  if (trusted.length) options.push(size(vl, trusted, [me]) - trusted.length - 1);
  const q = Math.max(0, current, Math.min(...options));
  // Q voters besides a dead leader must be able to answer a candidate among the voters.
  return q > 0 && q > voters.length - 1 ? null : q;
}

function gucFor(sync: readonly string[], dcs: Dcs, me: string, wanted: number, minNodes: number): Guc | null {
  // With no voters only the leader can win: any setting is safe. Otherwise commits from now on
  // must stay visible to the voting set in force.
  const vl = uniq([me, ...dcs.voters]);
  const needed = dcs.voters.length ? size(vl, sync, [me]) - dcs.quorum - 1 : 0;
  if (!sync.length) return needed <= 0 ? { sync: [], num: minNodes, quorumType: true } : null;
  const num = Math.max(needed, Math.min(wanted, sync.length), minNodes, 1);
  return num > sync.length ? null : { sync, num, quorumType: true };
}

const distance = (n: Node, target: { dcs: Dcs; guc: Guc }, me: string) =>
  names.minus(n.dcs.voters, target.dcs.voters).length + names.minus(target.dcs.voters, n.dcs.voters).length
  + Math.abs(n.dcs.quorum - target.dcs.quorum) + (n.dcs.leader === me ? 0 : 10)
  + names.minus(n.guc.sync, target.guc.sync).length + names.minus(target.guc.sync, n.guc.sync).length
  + Math.abs(n.guc.num - target.guc.num) + (n.guc.quorumType ? 0 : 1)
  // Emptying the voters is safe but leaves only the leader able to win: the last resort.
  + (n.dcs.voters.length === 0 && target.dcs.voters.length > 0 ? 3 : 0);

const show = (xs: readonly string[]) => names.sorted(xs).join(', ');

/** The leader's quorum-mode steps for this cycle. */
export function planQuorum(input: QuorumInput): SyncStep[] {
  const { me, key, state, minNodes } = input;
  const steps: SyncStep[] = [];
  let dcs: Dcs = { leader: key.leader ?? me, voters: key.leader ? key.members.filter((n) => n.toLowerCase() !== me.toLowerCase()) : [], quorum: key.leader ? key.quorum : 0 };
  if (!key.leader) steps.push({ kind: 'write_sync', leader: me, members: [], quorum: 0, log: 'Enabled synchronous replication' });
  // The voting set in force, as the race reads it (after a failover it still holds me as a voter).
  const inForce: Dcs = key.leader ? { leader: key.leader, voters: key.members, quorum: key.quorum } : dcs;
  const guc: Guc = { sync: state.sync.filter((n) => n.toLowerCase() !== me.toLowerCase()), num: Math.min(state.numsync, state.sync.length), quorumType: state.type === 'quorum' };
  const active = state.active.filter((n) => n.toLowerCase() !== me.toLowerCase());
  // Strict mode without enough standbys: PostgreSQL keeps waiting for the voters (or nobody).
  if (active.length < minNodes) {
    const num = Math.max(minNodes, dcs.voters.length - dcs.quorum);
    const value = formatSyncStandbyNames(dcs.voters, num, true);
    if (!sameSet(guc.sync, dcs.voters) || guc.num !== num || !guc.quorumType) steps.push({ kind: 'set_ssn', value, log: 'No active replication connections from Patroni members and synchronous_mode_strict is requested. Commits will be delayed.' });
    else steps.push({ kind: 'warn', log: `No active replication connections from Patroni members and synchronous_mode_strict is requested. Continue using old value of synchronous_standby_names="${value}". Commits will be delayed.` });
    return steps;
  }
  // Right after a failover: take `/sync` over keeping the voting set (the old leader becomes a voter),
  // and give the standbys a cycle to reconnect before removing anyone.
  if (key.leader && key.leader.toLowerCase() !== me.toLowerCase() && !names.intersect(guc.sync, active).length) {
    const voters = names.sorted(names.union([key.leader], key.members).filter((n) => n.toLowerCase() !== me.toLowerCase()));
    const q = minimalQuorum(me, voters, guc, inForce, state.ready ?? []);
    if (q !== null) steps.push({ kind: 'write_sync', leader: me, members: voters, quorum: q, log: `Setting leader to ${me}, quorum to ${q} of (${show(voters)})` });
    return steps;
  }
  const wantNum = active.length ? Math.max(Math.min(input.wanted, active.length), minNodes) : minNodes;
  const target = { dcs: { leader: me, voters: active, quorum: Math.max(0, active.length - wantNum) }, guc: { sync: active, num: wantNum, quorumType: true } };
  const start: Node = { dcs, guc, base: inForce, ready: state.ready ?? [], gucChanged: false, path: [] };
  const isGoal = (n: Node) => distance(n, target, me) === 0;
  let best = start;
  let frontier = [start];
  for (let depth = 0; depth < 4 && !isGoal(best); depth++) {
    const next: Node[] = [];
    for (const n of frontier) {
      for (const m of moves(n, me, active, input)) {
        if (isGoal(m)) { best = m; break; }
        if (distance(m, target, me) < distance(best, target, me)) best = m;
        next.push(m);
      }
      if (isGoal(best)) break;
    }
    frontier = next;
  }
  return [...steps, ...best.path];
}

function moves(n: Node, me: string, active: readonly string[], input: QuorumInput): Node[] {
  const out: Node[] = [];
  const { dcs, guc } = n;
  const sets = [active, dcs.voters, guc.sync, names.union(dcs.voters, active), names.intersect(dcs.voters, active), names.union(guc.sync, active), names.intersect(guc.sync, active), []];
  const leaderChange = dcs.leader !== me;
  // `/sync` moves.
  for (const raw of sets) {
    const voters = uniq(raw).filter((x) => x.toLowerCase() !== me.toLowerCase());
    const q = minimalQuorum(me, voters, guc, n.base, n.gucChanged ? [] : n.ready);
    if (q === null) continue;
    if (!leaderChange && sameSet(voters, dcs.voters) && q === dcs.quorum) continue;
    const d: Dcs = { leader: me, voters, quorum: q };
    const log = `Setting leader to ${me}, quorum to ${q} of (${show(voters)})`;
    out.push({ ...n, dcs: d, path: [...n.path, { kind: 'write_sync', leader: me, members: voters, quorum: q, log }] });
  }
  // One synchronous_standby_names move per cycle: the standbys then have to catch up with it.
  if (n.gucChanged) return out;
  for (const raw of sets) {
    const sync = uniq(raw).filter((x) => x.toLowerCase() !== me.toLowerCase());
    const g = gucFor(sync, dcs, me, input.wanted, input.minNodes);
    if (!g || (sameSet(g.sync, guc.sync) && g.num === guc.num && guc.quorumType)) continue;
    const value = formatSyncStandbyNames(g.sync, g.num, true);
    out.push({ ...n, guc: g, base: dcs, ready: [], gucChanged: true, path: [...n.path, { kind: 'set_ssn', value, log: `Assigning synchronous_standby_names to ${value ?? "''"}` }] });
  }
  return out;
}

/**
 * Before promoting in quorum mode: PostgreSQL waits for the other voters (the old leader among
 * them) enough that the voting set, kept as it is, still finds every commit (Patroni's rule:
 * N = |voters ∪ old leader| - Q - 1, one more when I was not a voter). `/sync` changes later.
 */
export function planQuorumPrepromote(me: string, key: SyncKey, minNodes: number): SyncStep[] {
  const everyone = key.leader ? names.union([key.leader], key.members) : [...key.members];
  const others = everyone.filter((n) => n.toLowerCase() !== me.toLowerCase());
  let num = everyone.length - key.quorum - 1;
  if (others.length === everyone.length) num += 1;
  num = Math.min(Math.max(num, minNodes), Math.max(others.length, minNodes));
  const value = formatSyncStandbyNames(others, num, true);
  return [{ kind: 'set_ssn', value, log: `Assigning synchronous_standby_names to ${value ?? "''"}` }];
}
