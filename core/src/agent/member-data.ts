/**
 * The `/members/<name>` JSON, with only non-default fields, as Patroni 4.1's touch_member writes it
 * (same keys in the same order), then pgha's extras. test/migration/member-value.test.ts checks it
 * with Patroni's own parser.
 */
import type { NodeStatus } from '../api/backend.js';
import { progressJson } from '../replica/progress.js';
import { isPlainObject, truthy } from '../util/json.js';

export interface MemberDataInput {
  readonly connUrl: string;
  readonly apiUrl: string;
  readonly proxyUrl?: string | null;
  readonly version: string;
  readonly state: string;
  readonly role: string;
  readonly tags: Record<string, unknown>;
  readonly status: NodeStatus | null;
  readonly checkpointAfterPromotePending: boolean;
  readonly scheduledRestart: Record<string, unknown> | null;
  readonly paused: boolean;
  readonly reason: string | null;
}

/**
 * Tags as published (Patroni's `_filter_tags`): boolean tags only when set, except that `nofailover`
 * is kept whenever `failover_priority` is given and `nosync` whenever `sync_priority` is, so readers
 * see both sides of a contradictory pair (the boolean wins). Other tags as given.
 */
export function publishedTags(tags: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (['nofailover', 'clonefrom', 'noloadbalance', 'nosync', 'nostream'].includes(k)) {
      const paired = (k === 'nofailover' && 'failover_priority' in tags) || (k === 'nosync' && 'sync_priority' in tags);
      if (paired) out[k] = v;
      else if (truthy(v)) out[k] = true;
    } else if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

export function memberData(i: MemberDataInput): Record<string, unknown> {
  const data: Record<string, unknown> = { conn_url: i.connUrl, api_url: i.apiUrl, state: i.state, role: i.role, version: i.version };
  if (i.proxyUrl) data.proxy_url = i.proxyUrl;
  if (i.checkpointAfterPromotePending) data.checkpoint_after_promote = false;
  const tags = publishedTags(i.tags);
  if (Object.keys(tags).length) data.tags = tags;
  const st = i.status;
  if (st?.pendingRestart) {
    data.pending_restart = true;
    if (st.pendingRestartReason) data.pending_restart_reason = st.pendingRestartReason;
  }
  if (st && ['running', 'restarting', 'starting'].includes(i.state)) {
    const wal = st.walLocation ?? Math.max(st.receivedLocation ?? 0, st.replayedLocation ?? 0);
    if (wal) data.xlog_location = wal;
    // Patroni 4.1's order and rules: standby fields only off the primary, replay_lsn before receive_lsn.
    if (i.role !== 'primary' && i.role !== 'master') {
      if (st.replayedLocation) data.replay_lsn = st.replayedLocation;
      if (st.receivedLocation) data.receive_lsn = st.receivedLocation;
      if (st.replicationState) data.replication_state = st.replicationState;
    }
    if (st.timeline) data.timeline = st.timeline;
  }
  if (i.scheduledRestart && isPlainObject(i.scheduledRestart)) data.scheduled_restart = i.scheduledRestart;
  if (i.paused) data.pause = true;
  // pgha extras last (Patroni's Member keeps unknown keys in `data` and reads none of them):
  // the agent's last decision, and restore/clone progress for `pgha list`.
  if (i.reason) data.pgha_reason = i.reason;
  if (st?.progress) data.progress = progressJson(st.progress);
  return data;
}
