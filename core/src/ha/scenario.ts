/** Builds HaInput values for decision tests: a readable description of a situation, with defaults. */
import { Cluster } from '../model/cluster.js';
import { Member, Tags } from '../model/member.js';
import { ClusterConfig, Failover, Leader, Status, SyncState, TimelineHistory } from '../model/values.js';
import { freshMemory, type AgentMemory, type HaInput, type HaSettings, type PeerStatus, type PgFacts } from './types.js';

export const SYSID = '7268616322854375442';

export const defaultSettings: HaSettings = {
  ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576, primaryStartTimeout: 300,
  checkTimeline: false, paused: false, usePgRewind: true, removeDataDirectoryOnRewindFailure: false,
  removeDataDirectoryOnDivergedTimelines: false, canBootstrap: true, hasNoLeaderReplicaMethod: false,
};

export const runningReplica: PgFacts = {
  dataDirEmpty: false, sysid: SYSID, controlState: 'in archive recovery', running: true, starting: false,
  inRecovery: true, timeline: 1, walPosition: 1000, recoveryConfigured: true,
};
export const runningPrimary: PgFacts = { ...runningReplica, controlState: 'in production', inRecovery: false, recoveryConfigured: false };
export const emptyPg: PgFacts = { ...runningReplica, dataDirEmpty: true, sysid: null, controlState: null, running: false, inRecovery: null, timeline: null, walPosition: null, recoveryConfigured: false };
export const stoppedReplica: PgFacts = { ...runningReplica, running: false, inRecovery: null, controlState: 'shut down in recovery' };
export const crashedPrimary: PgFacts = { ...runningPrimary, running: false, inRecovery: null, controlState: 'in production' };

export interface ScenarioOpts {
  me?: string;
  members?: Array<string | [string, Record<string, unknown>]>;
  leader?: string | null;
  initialize?: string | null;
  config?: Record<string, unknown> | null;
  failover?: Record<string, unknown> | null;
  history?: string | null;
  /** The `/sync` key value. */
  sync?: Record<string, unknown> | null;
  lastLsn?: number;
  dcsDown?: boolean;
  pg?: Partial<PgFacts>;
  peers?: Array<Partial<PeerStatus> & { name: string }>;
  settings?: Partial<HaSettings>;
  memory?: Partial<AgentMemory>;
  tags?: Record<string, unknown>;
  now?: number;
}

export function scenario(o: ScenarioOpts = {}): HaInput {
  const me = o.me ?? 'node1';
  const memberSpecs = o.members ?? ['node1', 'node2', 'node3'];
  const members = memberSpecs.map((spec) => {
    const [name, extra] = typeof spec === 'string' ? [spec, {}] : spec;
    return Member.fromNode(1, name, null, JSON.stringify({
      conn_url: `postgres://127.0.0.1:5432/postgres`, api_url: `http://127.0.0.1:8008/patroni`, state: 'running', role: 'replica',
      xlog_location: 1000, timeline: 1, ...extra,
    }));
  });
  const leaderName = o.leader === undefined ? 'node1' : o.leader;
  const leaderMember = leaderName ? members.find((m) => m.name === leaderName) ?? new Member(-1, leaderName, null, {}) : null;
  const cluster = o.dcsDown ? null : new Cluster({
    initialize: o.initialize === undefined ? SYSID : o.initialize,
    config: o.config === null ? null : ClusterConfig.fromNode(1, JSON.stringify(o.config ?? { ttl: 30 })),
    leader: leaderMember ? new Leader(1, null, leaderMember) : null,
    status: new Status(o.lastLsn ?? 1000, null),
    members,
    failover: o.failover ? Failover.fromNode(2, JSON.stringify(o.failover)) : null,
    history: o.history ? TimelineHistory.fromNode(3, o.history) : null,
    sync: o.sync ? SyncState.fromNode(4, JSON.stringify(o.sync)) : undefined,
  });
  const peers: PeerStatus[] = (o.peers ?? memberSpecs.map((s) => ({ name: typeof s === 'string' ? s : s[0] })).filter((p) => p.name !== me))
    .map((p) => ({ reachable: true, inRecovery: true, walPosition: 1000, timeline: 1, nofailover: false, failoverPriority: 1, watchdogFailed: false, ...p }));
  const defaultPg = leaderName === me ? runningPrimary : runningReplica;
  return {
    name: me,
    tags: new Tags(o.tags ?? {}),
    cluster,
    oldCluster: null,
    pg: { ...defaultPg, ...o.pg },
    peers,
    settings: { ...defaultSettings, ...o.settings },
    memory: { ...freshMemory, ...o.memory },
    now: o.now ?? Date.parse('2026-01-01T12:00:00Z'),
    monotonic: 1_000_000,
    random: () => 0,
  };
}
