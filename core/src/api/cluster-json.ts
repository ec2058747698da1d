/** `GET /cluster`: Patroni's cluster_as_json (v4 shape, with lsn/lag per replica) of a fresh DCS read. */
import type { Cluster } from '../model/cluster.js';
import { parseIntLoose } from '../model/names.js';
import { formatZonedTime } from '../model/timestamp.js';
import type { ApiBackend } from './backend.js';
import { formatLsn } from './parsing.js';
import { globalView } from './status.js';

const OPTIONAL_MEMBER_FIELDS = ['timeline', 'pending_restart', 'pending_restart_reason', 'scheduled_restart', 'tags'] as const;
/** Member data key holding each position: '' is the flush/replay position every version publishes. */
const LSN_KINDS = [['receive_', 'receive_lsn'], ['replay_', 'replay_lsn'], ['', 'xlog_location']] as const;

export function clusterAsJson(cluster: Cluster, backend: ApiBackend): Record<string, unknown> {
  const view = globalView(backend, cluster);
  const leaderName = cluster.leaderName;
  const clusterLsn = cluster.lastLsn;
  const syncRole = view.quorumMode ? 'quorum_standby' : 'sync_standby';
  const members: Array<Record<string, unknown>> = [];
  for (const m of cluster.members) {
    let role = 'replica';
    if (m.name === leaderName) role = view.standbyCluster ? 'standby_leader' : 'leader';
    else if (view.synchronousMode && cluster.sync.matches(m.name)) role = syncRole;

    const replState = typeof m.data.replication_state === 'string' ? m.data.replication_state : '';
    const state = (role !== 'leader' ? replState : '') || (typeof m.data.state === 'string' ? m.data.state : '');
    const member: Record<string, unknown> = { name: m.name, role, state, api_url: m.apiUrl };
    const kw = m.connKwargs();
    if (kw.host) {
      member.host = kw.host;
      const port = parseIntLoose(kw.port);
      if (port) member.port = port;
    }
    for (const f of OPTIONAL_MEMBER_FIELDS) if (f in m.data) member[f] = m.data[f];
    if (m.name !== leaderName) {
      for (const [prefix, key] of LSN_KINDS) {
        const lsn = parseIntLoose(m.data[key]);
        if (!lsn) {
          member[`${prefix}lsn`] = 'unknown';
          member[`${prefix}lag`] = 'unknown';
        } else {
          member[`${prefix}lag`] = clusterLsn >= lsn ? clusterLsn - lsn : 0;
          member[`${prefix}lsn`] = formatLsn(lsn);
        }
      }
    }
    members.push(member);
  }
  members.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  const out: Record<string, unknown> = { members };
  if (view.paused) out.pause = true;
  const f = cluster.failover;
  if (f?.size && f.scheduledAt) {
    const sw: Record<string, string> = { at: formatZonedTime(f.scheduledAt) };
    if (f.leader) sw.from = f.leader;
    if (f.candidate) sw.to = f.candidate;
    out.scheduled_switchover = sw;
  }
  return out;
}
