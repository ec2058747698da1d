/**
 * The order of changes for `synchronous_mode: on` (priority: `N (a,b)`), as data: given `/sync`,
 * the snapshot of PostgreSQL's synchronous state and the settings, the steps the leader runs this
 * cycle. The runner executes them in order and stops at the first lost compare-and-swap.
 */
import { formatSyncStandbyNames, names, type SyncSnapshot } from './sync.js';

/** What `/sync` says (members are the sync standbys, or voters in quorum mode). */
export interface SyncKey {
  readonly leader: string | null;
  readonly members: readonly string[];
  readonly quorum: number;
}

export type SyncStep =
  /** CAS-write `/sync` = {leader, sync_standby: members, quorum?}. */
  | { readonly kind: 'write_sync'; readonly leader: string; readonly members: readonly string[]; readonly quorum?: number; readonly log: string }
  /** Set synchronous_standby_names (null: the user's own value) and reload. */
  | { readonly kind: 'set_ssn'; readonly value: string | null; readonly log: string }
  /**
   * Wait (up to 2 s) for the picked standbys to confirm, then CAS-write `/sync` with those confirmed
   * (when not empty and different from `written`).
   */
  | { readonly kind: 'publish_confirmed'; readonly wait: boolean; readonly written: readonly string[] }
  | { readonly kind: 'warn'; readonly log: string };

export interface MultisyncInput {
  readonly me: string;
  readonly key: SyncKey;
  readonly state: SyncSnapshot;
  /** 1 with synchronous_mode_strict, else 0 (Patroni's min_synchronous_nodes). */
  readonly minNodes: number;
}

const ssn = (sync: readonly string[], num: number | null = null) => formatSyncStandbyNames(sync, num, false);
const list = (xs: readonly string[]) => `[${names.sorted(xs).map((x) => `'${x}'`).join(', ')}]`;

/** Patroni's _process_multisync_replication as a list of steps. */
export function planMultisync(input: MultisyncInput): SyncStep[] {
  const { me, state, minNodes } = input;
  const steps: SyncStep[] = [];
  let key = input.key;
  if (!key.leader) {
    steps.push({ kind: 'write_sync', leader: me, members: [], log: 'Enabled synchronous replication' });
    key = { leader: me, members: [], quorum: 0 };
  }
  const picked = state.active;
  const allowPromote = state.confirmed;
  let voters = key.members;
  if (key.leader !== me) {
    steps.push({ kind: 'write_sync', leader: me, members: [], log: `Inconsistent state of /sync key detected, leader = ${key.leader} doesn't match ${me}, updating synchronous replication key` });
    voters = [];
  }
  if (names.equal(picked, voters) && !names.equal(voters, allowPromote)) {
    steps.push({ kind: 'write_sync', leader: me, members: allowPromote, log: `Inconsistent state between synchronous_standby_names = ${list(allowPromote)} and /sync = ${list(voters)} key detected, updating synchronous replication key...` });
    voters = allowPromote;
  }
  // Strict mode without enough standbys: keep PostgreSQL waiting for the standbys /sync names (or nobody).
  if (picked.length < minNodes) {
    const numsync = Math.max(minNodes, voters.length);
    if (!names.equal(voters, state.sync) || numsync !== state.numsync || state.type !== 'priority') {
      steps.push({ kind: 'set_ssn', value: ssn(voters, numsync), log: 'No active replication connections from Patroni members and synchronous_mode_strict is requested. Commits will be delayed.' });
    } else {
      steps.push({ kind: 'warn', log: `No active replication connections from Patroni members and synchronous_mode_strict is requested. Continue using old value of synchronous_standby_names="${ssn(voters, numsync)}". Commits will be delayed.` });
    }
    return steps;
  }
  if (names.equal(picked, voters) && names.equal(voters, state.sync) && state.numsync === picked.length) {
    if (state.type !== 'priority' && picked.length) steps.push({ kind: 'set_ssn', value: ssn(picked), log: `Assigning synchronous_standby_names to ${ssn(picked)}` });
    return steps;
  }
  // Shrink /sync to the members that stay trusted before PostgreSQL stops waiting for the others.
  const common = names.intersect(voters, allowPromote);
  if (!names.equal(common, voters)) {
    steps.push({ kind: 'write_sync', leader: me, members: common, log: `Updating /sync key temporarily from ${list(voters)} to ${list(common)}` });
  }
  steps.push({ kind: 'set_ssn', value: picked.length ? ssn(picked) : null, log: `Assigning synchronous_standby_names to ${ssn(picked) ?? "''"}` });
  steps.push({ kind: 'publish_confirmed', wait: picked.length > 0 && !names.equal(allowPromote, picked), written: common });
  return steps;
}

/**
 * Before promoting in `synchronous_mode: on`: this node becomes the `/sync` leader. Strict mode keeps
 * waiting for the other standbys `/sync` named (or for anybody: the placeholder); otherwise no
 * standby until they connect. The `/sync` write is a CAS: losing it postpones the promotion.
 */
export function planMultisyncPrepromote(me: string, key: SyncKey, minNodes: number): SyncStep[] {
  // The former leader too: in strict mode commits keep waiting for the nodes that were in sync.
  const everyone = key.leader ? names.union([key.leader], key.members) : [...key.members];
  const keep = minNodes > 0 ? everyone.filter((n) => n.toLowerCase() !== me.toLowerCase()) : [];
  const numsync = minNodes > 0 && !keep.length ? minNodes : null;
  return [
    { kind: 'write_sync', leader: me, members: keep, log: `promoting: /sync leader ${me}, sync_standby ${list(keep)}` },
    { kind: 'set_ssn', value: ssn(keep, numsync), log: `Assigning synchronous_standby_names to ${ssn(keep, numsync) ?? "''"}` },
  ];
}
