/**
 * The `members` service (plugin API 1.1): a read-only view of the cluster's members, one DCS read
 * per call, so a replica method can pick its own source (a least-loaded replica, a nearby one).
 */
import type { MemberView, MembersService } from '@pgha/plugin-api';
import type { Cluster } from '../model/cluster.js';

export function membersService(readCluster: () => Promise<Cluster>): MembersService {
  return {
    async list(): Promise<readonly MemberView[]> {
      const cluster = await readCluster();
      const leader = cluster.leaderName;
      return cluster.members.map((m) => Object.freeze({
        name: m.name, role: m.role, state: m.state, connUrl: m.connUrl, apiUrl: m.apiUrl, lsn: m.lsn,
        isLeader: m.name === leader, tags: m.tagsData,
        connKwargs: (auth?: Record<string, unknown> | null) => m.connKwargs(auth),
      }));
    },
  };
}
