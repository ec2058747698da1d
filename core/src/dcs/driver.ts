/**
 * The contract every DCS plugin implements. Drivers move bytes; the core parses them (one tolerant
 * parser for every backend, see cluster-builder.ts) and adds the seed's concrete behaviour (facade.ts).
 *
 * Error rules (all methods):
 *  - the store unreachable, timed out, or refusing us: throw DcsError (transient);
 *  - a lost compare-and-swap / create race: return false, never throw.
 *
 * Timing-critical methods must finish within `retry_timeout` (the facade also enforces a deadline):
 *  loadCluster, attemptToAcquireLeader, updateLeader.
 * Atomic (compare-and-create / compare-and-swap) methods: attemptToAcquireLeader, initialize(createNew),
 *  updateLeader, deleteLeader, setConfigValue/setFailoverValue/setSyncStateValue/deleteSyncState with a version.
 */
// The contract lives in @pgha/plugin-api (what third-party drivers build against); re-exported here.
export type { DcsContext, DcsDriver, DcsNode, LeaderKey } from '@pgha/plugin-api';

/** Keys under the cluster prefix, as Patroni names them. */
export const DcsKeys = {
  INITIALIZE: 'initialize',
  CONFIG: 'config',
  LEADER: 'leader',
  FAILOVER: 'failover',
  HISTORY: 'history',
  MEMBERS: 'members/',
  STATUS: 'status',
  LEADER_OPTIME: 'optime/leader',
  SYNC: 'sync',
  FAILSAFE: 'failsafe',
} as const;

/** `/service/demo` from namespace `service` or `/service/` and scope `demo` (slashes collapsed). */
export function clusterBasePath(namespace: string | undefined, scope: string): string {
  return ('/' + [namespace ?? 'service', scope].join('/')).replace(/\/+/g, '/').replace(/\/$/, '');
}

export function clientPath(basePath: string, key: string): string {
  return `${basePath}/${key.replace(/^\/+/, '')}`;
}
