import { Cluster } from '../model/cluster.js';
import { Member } from '../model/member.js';
import { ClusterConfig, Failover, Leader, Status, SyncState, TimelineHistory } from '../model/values.js';
import { storedObject } from '../model/values.js';
import { DcsKeys, type DcsNode } from './driver.js';

/**
 * Build the Cluster view from raw keys. Tolerant by design: any stored garbage parses to an empty
 * value; unknown keys are ignored. Keys are relative to the cluster prefix.
 */
export function buildCluster(nodes: Iterable<DcsNode>): Cluster {
  const byKey = new Map<string, DcsNode>();
  const members: Member[] = [];
  for (const n of nodes) {
    const key = n.key.replace(/^\/+/, '');
    if (key.startsWith(DcsKeys.MEMBERS)) {
      const name = key.slice(DcsKeys.MEMBERS.length);
      if (name && !name.includes('/')) members.push(Member.fromNode(n.version, name, n.session ?? null, n.value));
    } else byKey.set(key, n);
  }

  const init = byKey.get(DcsKeys.INITIALIZE);
  const cfg = byKey.get(DcsKeys.CONFIG);
  const statusNode = byKey.get(DcsKeys.STATUS);
  const optimeNode = byKey.get(DcsKeys.LEADER_OPTIME);
  let status = statusNode ? Status.fromNode(statusNode.value) : Status.empty();
  if (!statusNode && optimeNode) status = Status.fromNode(/^\s*\d{1,20}\s*$/.test(optimeNode.value) ? Number(optimeNode.value) : 0);

  let leader: Leader | null = null;
  const leaderNode = byKey.get(DcsKeys.LEADER);
  if (leaderNode && leaderNode.value) {
    const member = members.find((m) => m.name === leaderNode.value) ?? new Member(-1, leaderNode.value, null, {});
    leader = new Leader(leaderNode.version, leaderNode.session ?? null, member);
  }

  const fo = byKey.get(DcsKeys.FAILOVER);
  const sync = byKey.get(DcsKeys.SYNC);
  const hist = byKey.get(DcsKeys.HISTORY);
  const fs = byKey.get(DcsKeys.FAILSAFE);
  // `/failsafe` maps member names to api_urls: anything else in it is dropped.
  const fsParsed = fs ? storedObject('failsafe', fs.value) : null;
  const failsafe = fsParsed ? Object.fromEntries(Object.entries(fsParsed).filter(([, v]) => typeof v === 'string')) as Record<string, string> : null;

  return new Cluster({
    initialize: init ? init.value : null,
    config: cfg ? ClusterConfig.fromNode(cfg.version, cfg.value) : null,
    leader,
    status,
    members,
    failover: fo ? Failover.fromNode(fo.version, fo.value) : null,
    sync: sync ? SyncState.fromNode(sync.version, sync.value) : SyncState.empty(),
    history: hist ? TimelineHistory.fromNode(hist.version, hist.value) : null,
    failsafe,
  });
}
