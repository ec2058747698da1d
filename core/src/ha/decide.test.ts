/**
 * Table-driven tests of the HA decision, the way Stolon tests its sentinel: each row is a situation
 * and the plan it must produce (message and actions; for plans that can lose, the fallback too).
 */
import { describe, expect, it } from 'vitest';
import { decide, needsPeerStatuses } from './decide.js';
import { crashedPrimary, emptyPg, runningPrimary, runningReplica, scenario, stoppedReplica, SYSID, type ScenarioOpts } from './scenario.js';
import type { Plan } from './types.js';

interface Row {
  name: string;
  s: ScenarioOpts;
  message: string | RegExp;
  actions?: string[];
  fail?: string | RegExp;
  failActions?: string[];
  reason?: RegExp;
}

// Slot maintenance follows every running cycle; its own table is in core/src/slots/decide-slots.test.ts.
const kinds = (p: Plan) => p.actions.filter((a) => a.type !== 'sync_slots').map((a) => ('mode' in a ? `${a.type}:${a.mode}` : a.type));
const NOW = Date.parse('2026-01-01T12:00:00Z');
const iso = (ms: number) => new Date(NOW + ms).toISOString();

/** A member without data that waits, as Patroni and pgha publish it. */
const WAITING = (name: string): [string, Record<string, unknown>] => [name, { role: 'uninitialized', state: 'stopped' }];

/** node1 (the leader) promoted to timeline 2; the replicas are on timeline 1. */
const NEW_TL: Array<string | [string, Record<string, unknown>]> = [['node1', { timeline: 2 }], 'node2', 'node3'];

const rows: Row[] = [
  // --- DCS unreachable ---
  { name: 'primary demotes offline when the DCS is unreachable', s: { dcsDown: true, pg: runningPrimary }, message: 'demoting self because DCS is not accessible and I was a leader', actions: ['demote:offline'] },
  { name: 'replica keeps running when the DCS is unreachable', s: { dcsDown: true, pg: runningReplica }, message: 'DCS is not accessible', actions: [] },
  { name: 'paused primary survives DCS loss', s: { dcsDown: true, pg: runningPrimary, settings: { paused: true } }, message: 'PAUSE: DCS is not accessible', actions: [] },
  { name: 'stopped node with DCS loss', s: { dcsDown: true, pg: stoppedReplica }, message: 'DCS is not accessible', actions: [] },

  // --- healthy cluster, leader side ---
  { name: 'leader with the lock', s: {}, message: 'no action. I am (node1), the leader with the lock', actions: ['update_lock'], fail: 'demoted self because failed to update leader lock in DCS', failActions: ['demote:immediate-nolock'] },
  { name: 'lock holder still in recovery promotes', s: { pg: runningReplica }, message: 'promoted self to leader because I had the session lock', actions: ['update_lock', 'promote'], fail: 'not promoting because failed to update leader lock in DCS', failActions: [] },
  { name: 'paused lock holder keeps running when refresh fails', s: { settings: { paused: true } }, message: 'PAUSE: no action. I am (node1), the leader with the lock', actions: ['update_lock'], fail: 'PAUSE: continue to run as primary after failing to update leader lock in DCS' },
  { name: 'paused lock holder that is not primary releases the lock', s: { pg: runningReplica, settings: { paused: true } }, message: 'PAUSE: removed leader lock because postgres is not running as primary', actions: ['release_lock'] },
  { name: 'paused lock holder waits for promote when it is the candidate', s: { pg: runningReplica, settings: { paused: true }, failover: { member: 'node1' } }, message: 'PAUSE: waiting to become primary after promote...', actions: [] },
  { name: 'leader writes /history after a promotion', s: { pg: { ...runningPrimary, timeline: 2 }, history: '[]' }, message: 'no action. I am (node1), the leader with the lock', actions: ['update_lock', 'update_history'] },
  { name: 'history already current', s: { pg: { ...runningPrimary, timeline: 2 }, history: '[[1,100,"no recovery target specified","2019-09-23T16:57:57+02:00","node1"]]' }, message: /the leader with the lock/, actions: ['update_lock'] },
  { name: 'timeline 1 with stale history resets it', s: { history: '[[1,100,"x","t","n"]]' }, message: /the leader with the lock/, actions: ['update_lock', 'update_history'] },
  { name: 'lock holder rewrites a missing /initialize', s: { initialize: null }, message: /the leader with the lock/, actions: ['write_initialize', 'update_lock'] },
  { name: 'lock holder rewrites an empty /config', s: { config: {} }, message: /the leader with the lock/, actions: ['write_config', 'update_lock'] },

  // --- manual failover / switchover, leader side ---
  { name: 'switchover: leader demotes gracefully', s: { failover: { leader: 'node1', member: 'node2' } }, message: 'switchover: demoting myself', actions: ['update_lock', 'demote:graceful'], fail: /demoted self because failed to update leader lock/ },
  { name: 'failover without leader name demotes', s: { failover: { member: 'node2' } }, message: 'manual failover: demoting myself', actions: ['update_lock', 'demote:graceful'] },
  { name: 'switchover to any member', s: { failover: { leader: 'node1' } }, message: 'switchover: demoting myself', actions: ['update_lock', 'demote:graceful'] },
  { name: 'switchover naming another leader is cleared', s: { failover: { leader: 'node2', member: 'node3' } }, message: /no action. I am \(node1\), the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /leader name does not match: node2 != node1/ },
  { name: 'switchover to myself is cleared', s: { failover: { leader: 'node1', member: 'node1' } }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /already the leader/ },
  { name: 'switchover to an unreachable candidate is cleared', s: { failover: { leader: 'node1', member: 'node2' }, peers: [{ name: 'node2', reachable: false }, { name: 'node3' }] }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /not possible.*node2 is not reachable/ },
  { name: 'switchover to a nofailover candidate is cleared', s: { failover: { leader: 'node1', member: 'node2' }, members: ['node1', ['node2', { tags: { nofailover: true } }], 'node3'] }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'] },
  { name: 'switchover to a lagging candidate is cleared', s: { failover: { leader: 'node1', member: 'node2' }, lastLsn: 50_000_000, peers: [{ name: 'node2', walPosition: 1000 }, { name: 'node3', walPosition: 50_000_000 }] }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /exceeds maximum replication lag/ },
  { name: 'failover to a candidate that is not a member is cleared', s: { failover: { member: 'ghost' } }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'] },
  { name: 'scheduled switchover in the future waits', s: { failover: { leader: 'node1', member: 'node2', scheduled_at: iso(60_000) }, now: NOW }, message: /the leader with the lock/, actions: ['update_lock'] },
  { name: 'scheduled switchover now demotes', s: { failover: { leader: 'node1', member: 'node2', scheduled_at: iso(2_000) }, now: NOW }, message: 'switchover: demoting myself', actions: ['update_lock', 'demote:graceful'] },
  { name: 'stale scheduled switchover is cleaned up', s: { failover: { leader: 'node1', member: 'node2', scheduled_at: iso(-60_000) }, now: NOW }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'] },
  { name: 'paused: failover without candidate is refused', s: { failover: { leader: 'node1' }, settings: { paused: true } }, message: /PAUSE: .*the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /only to a specific candidate/ },
  { name: 'paused: switchover with candidate demotes', s: { failover: { leader: 'node1', member: 'node2' }, settings: { paused: true } }, message: 'PAUSE: switchover: demoting myself', actions: ['update_lock', 'demote:graceful'] },
  { name: 'switchover with no other members is cleared', s: { members: ['node1'], failover: { leader: 'node1' }, peers: [] }, message: /the leader with the lock/, actions: ['update_lock', 'clear_failover'], reason: /candidates list is empty/ },

  // --- healthy cluster, follower side ---
  { name: 'replica follows the leader', s: { me: 'node2' }, message: 'no action. I am (node2), a secondary, and following a leader (node1)', actions: ['follow'] },
  { name: 'primary without the lock demotes', s: { me: 'node2', pg: runningPrimary }, message: 'demoting self because I do not have the lock and I was a leader', actions: ['demote:immediate-nolock'] },
  { name: 'paused primary without lock keeps running', s: { me: 'node2', pg: runningPrimary, settings: { paused: true } }, message: 'PAUSE: continue to run as primary without lock', actions: [] },
  { name: 'paused replica follows', s: { me: 'node2', settings: { paused: true } }, message: 'PAUSE: no action. I am (node2), a secondary, and following a leader (node1)', actions: ['follow'] },
  { name: 'replicatefrom an existing member', s: { me: 'node3', tags: { replicatefrom: 'node2' } }, message: /following a leader \(node1\)/, actions: ['follow'] },
  { name: 'nostream replica follows nobody', s: { me: 'node2', tags: { nostream: true } }, message: /following a leader/, actions: ['follow'] },

  // --- a running replica that stopped streaming: diverged WAL after a failover ---
  { name: 'replica not streaming from a leader on its own timeline waits (no divergence possible)', s: { me: 'node2', pg: { receiverStreaming: false } }, message: /following a leader \(node1\)/, actions: ['follow'] },
  { name: 'replica not streaming from a leader ahead on the same timeline number checks (a timeline collision)', s: { me: 'node2', members: [['node1', { xlog_location: 5000 }], 'node2', 'node3'], pg: { receiverStreaming: false } }, message: 'checking whether the timeline of node2 diverged from node1', actions: ['check_rewind'] },
  { name: 'a failed check is not repeated every cycle', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', divergenceFailedAt: 1_000_000 - 5_000 } }, message: /following a leader \(node1\)/, actions: ['follow'] },
  { name: 'a failed check is retried after ttl', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', divergenceFailedAt: 1_000_000 - 31_000 } }, message: /checking whether/, actions: ['check_rewind'] },
  { name: 'replica on a newer timeline than the leader checks (it can never stream from it)', s: { me: 'node2', pg: { receiverStreaming: false, timeline: 3 } }, message: 'checking whether the timeline of node2 diverged from node1', actions: ['check_rewind'] },
  { name: 'replica not streaming from a leader on a newer timeline checks for divergence', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false } }, message: 'checking whether the timeline of node2 diverged from node1', actions: ['check_rewind'], reason: /not streaming/ },
  { name: 'replica not streaming but checked keeps following', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'not_needed' } }, message: /following a leader \(node1\)/, actions: ['follow'] },
  { name: 'leader on a new timeline: checked again', s: { me: 'node2', members: [['node1', { timeline: 3 }], 'node2', 'node3'], pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'not_needed' } }, actions: ['check_rewind'], message: /checking whether/ },
  { name: 'diverged running replica rewinds', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'need_rewind' } }, message: 'running pg_rewind from node1', actions: ['rewind'], reason: /diverged/ },
  { name: 'diverged running replica without pg_rewind re-clones when allowed', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'need_rewind' }, settings: { usePgRewind: false, removeDataDirectoryOnDivergedTimelines: true } }, message: 'reinitializing due to diverged timelines', actions: ['reinitialize'] },
  { name: 'diverged running replica, nothing allowed: says what is wrong', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'need_rewind' }, settings: { usePgRewind: false } }, message: /^replica cannot follow node1: .*diverged.*use_pg_rewind is off; run reinit/, actions: [] },
  { name: 'failed rewind of a running replica re-clones when allowed', s: { me: 'node2', members: NEW_TL, pg: { receiverStreaming: false }, memory: { divergenceCheckedFor: 'node1@2/1000', rewind: 'failed' }, settings: { removeDataDirectoryOnRewindFailure: true } }, message: 'reinitializing due to diverged timelines', actions: ['reinitialize'] },
  { name: 'streaming replica is not checked', s: { me: 'node2', pg: { receiverStreaming: true } }, message: /following a leader/, actions: ['follow'] },

  // --- unhealthy cluster (no leader) ---
  { name: 'healthiest replica races and promotes', s: { me: 'node2', leader: null }, message: 'promoted self to leader by acquiring session lock', actions: ['acquire_lock', 'promote'], fail: 'following new leader after trying and failing to obtain lock', failActions: ['refresh'] },
  { name: 'primary without leader key re-acquires', s: { leader: null, pg: runningPrimary }, message: 'acquired session lock as a leader', actions: ['acquire_lock'], fail: 'demoted self after trying and failing to obtain lock', failActions: ['demote:immediate-nolock'] },
  { name: 'old primary behind the cluster timeline does not race', s: { leader: null, pg: runningPrimary, history: '[[1,100,"r","t","node2"]]' }, message: 'demoting self because i am not the healthiest node', actions: ['demote:immediate-nolock'], reason: /behind the cluster timeline/ },
  { name: 'lagging replica does not race', s: { me: 'node2', leader: null, lastLsn: 10_000_000, pg: { walPosition: 1000 } }, message: 'following a different leader because i am not the healthiest node', actions: ['follow'], reason: /exceeds maximum replication lag/ },
  { name: 'replica within lag races', s: { me: 'node2', leader: null, lastLsn: 1_000_000, pg: { walPosition: 1000 } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'peer ahead wins', s: { me: 'node2', leader: null, peers: [{ name: 'node1', reachable: false }, { name: 'node3', walPosition: 2000 }] }, message: /not the healthiest node/, reason: /Wal position of node3 is ahead/ },
  { name: 'peer still primary blocks the race', s: { me: 'node2', leader: null, peers: [{ name: 'node1', inRecovery: false }, { name: 'node3' }] }, message: /not the healthiest node/, reason: /Primary \(node1\) is still alive/ },
  { name: 'equal position, higher priority peer wins', s: { me: 'node2', leader: null, peers: [{ name: 'node1', reachable: false }, { name: 'node3', failoverPriority: 5 }] }, message: /not the healthiest node/, reason: /equally tolerable WAL position and priority 5/ },
  { name: 'equal position, my higher priority wins', s: { me: 'node2', leader: null, tags: { failover_priority: 5 }, peers: [{ name: 'node3', failoverPriority: 1 }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'unreachable peers are ignored', s: { me: 'node2', leader: null, peers: [{ name: 'node1', reachable: false }, { name: 'node3', reachable: false, walPosition: 99999 }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'nofailover peer ahead is ignored', s: { me: 'node2', leader: null, peers: [{ name: 'node3', nofailover: true, walPosition: 99999 }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'peer with failed watchdog is ignored', s: { me: 'node2', leader: null, peers: [{ name: 'node3', watchdogFailed: true, walPosition: 99999 }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'nofailover replica never races', s: { me: 'node2', leader: null, tags: { nofailover: true } }, message: 'following a different leader because I am not allowed to promote', actions: ['follow'] },
  { name: 'failover_priority 0 never races', s: { me: 'node2', leader: null, tags: { failover_priority: 0 } }, message: 'following a different leader because I am not allowed to promote' },
  { name: 'nofailover wins over a positive priority', s: { me: 'node2', leader: null, tags: { nofailover: true, failover_priority: 3 } }, message: /not allowed to promote/ },
  { name: 'check_timeline: behind timeline does not race', s: { me: 'node2', leader: null, settings: { checkTimeline: true }, history: '[[1,100,"r","t","x"]]' }, message: /not the healthiest node/, reason: /My timeline 1 is behind last known cluster timeline 2/ },
  { name: 'check_timeline: unknown timeline does not race', s: { me: 'node2', leader: null, settings: { checkTimeline: true }, pg: { timeline: null } }, message: /not the healthiest/, reason: /Can not figure out my timeline/ },
  { name: 'check_timeline: current timeline races', s: { me: 'node2', leader: null, settings: { checkTimeline: true }, history: '[]' }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'paused: replica does not race', s: { me: 'node2', leader: null, settings: { paused: true } }, message: 'PAUSE: no action. I am (node2)', actions: [], reason: /paused/ },
  { name: 'paused: primary grabs the free lock', s: { leader: null, pg: runningPrimary, settings: { paused: true } }, message: 'PAUSE: acquired session lock as a leader', actions: ['acquire_lock'] },
  { name: 'pre_promote backoff blocks racing', s: { me: 'node2', leader: null, memory: { prePromoteBackoffUntil: 2_000_000 } }, message: /not the healthiest/, reason: /backoff/ },
  { name: 'race clears a pending failover key', s: { me: 'node2', leader: null, failover: { member: 'node2' } }, message: 'promoted self to leader by acquiring session lock', actions: ['acquire_lock', 'clear_failover', 'promote'] },

  // --- manual failover without a leader ---
  { name: 'named candidate takes over without lag check', s: { me: 'node2', leader: null, failover: { leader: 'node1', member: 'node2' }, lastLsn: 99_000_000 }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'others abstain while the candidate is healthy', s: { me: 'node3', leader: null, failover: { leader: 'node1', member: 'node2' } }, message: /not the healthiest node/, reason: /candidate node2 is healthy/ },
  { name: 'unhealthy candidate: others race without lag check', s: { me: 'node3', leader: null, failover: { leader: 'node1', member: 'node2' }, lastLsn: 99_000_000, peers: [{ name: 'node1', reachable: false }, { name: 'node2', reachable: false }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'former leader abstains while others are healthy', s: { me: 'node1', leader: null, pg: runningReplica, failover: { leader: 'node1', member: 'node2' }, peers: [{ name: 'node2', reachable: false }, { name: 'node3' }] }, message: /not the healthiest/, reason: /former leader/ },
  { name: 'former leader re-races when nobody else can', s: { me: 'node1', leader: null, pg: runningReplica, failover: { leader: 'node1', member: 'node2' }, peers: [{ name: 'node2', reachable: false }, { name: 'node3', reachable: false }] }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'failover to ghost candidate: race among the rest', s: { me: 'node2', leader: null, failover: { member: 'ghost' } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'paused: non-candidate waits', s: { me: 'node3', leader: null, pg: runningReplica, settings: { paused: true }, failover: { member: 'node2' } }, message: 'PAUSE: no action. I am (node3)', reason: /manual failover to node2 is pending/ },

  // --- bootstrap and clone ---
  { name: 'empty node races for initialize', s: { leader: null, initialize: null, members: [], pg: emptyPg }, message: 'trying to bootstrap a new cluster', actions: ['race_initialize', 'bootstrap'], fail: 'failed to acquire initialize lock', failActions: [] },
  { name: 'node without bootstrap section waits', s: { leader: null, initialize: null, members: [], pg: emptyPg, settings: { canBootstrap: false } }, message: 'waiting for leader to bootstrap' },
  { name: 'nofailover node does not bootstrap', s: { leader: null, initialize: null, members: [], pg: emptyPg, tags: { nofailover: true } }, message: 'waiting for leader to bootstrap' },
  { name: 'initialize in progress: wait', s: { leader: null, initialize: '', members: [], pg: emptyPg }, message: 'waiting for leader to bootstrap' },
  { name: 'race key nobody runs: wait ttl from the first sight', s: { leader: null, initialize: '', members: [WAITING('node2'), WAITING('node3')], pg: emptyPg, memory: { raceUnanswered: true, abandonedRaceSince: 1_000_000 - 29_000 } }, message: 'waiting for leader to bootstrap' },
  { name: 'race key nobody runs for ttl: removed for a new race', s: { leader: null, initialize: '', members: [WAITING('node2'), WAITING('node3')], pg: emptyPg, memory: { raceUnanswered: true, abandonedRaceSince: 1_000_000 - 31_000 } }, message: 'removing the initialize key: nobody has bootstrapped the cluster for 31 seconds since my race for it went unanswered', actions: ['clear_initialize'], reason: /abandoned bootstrap race/ },
  { name: 'race key nobody runs, my race was answered: wait for the winner (Patroni)', s: { leader: null, initialize: '', members: [WAITING('node2'), WAITING('node3')], pg: emptyPg, memory: { abandonedRaceSince: 1_000_000 - 300_000 } }, message: 'waiting for leader to bootstrap', actions: [] },
  { name: 'race key while a member runs initdb: wait', s: { leader: null, initialize: '', members: [['node2', { role: 'uninitialized', state: 'initializing new cluster' }], WAITING('node3')], pg: emptyPg, memory: { raceUnanswered: true, abandonedRaceSince: 1_000_000 - 300_000 } }, message: 'waiting for leader to bootstrap' },
  { name: 'race key while a member runs post_bootstrap (a primary, no leader key yet): wait', s: { leader: null, initialize: '', members: [['node2', { role: 'primary', state: 'running' }], WAITING('node3')], pg: emptyPg, memory: { raceUnanswered: true, abandonedRaceSince: 1_000_000 - 300_000 } }, message: 'waiting for leader to bootstrap' },
  { name: 'race key while a member has data: wait (it adopts its own)', s: { leader: null, initialize: '', members: [['node2', { role: 'replica', state: 'stopped' }], WAITING('node3')], pg: emptyPg, memory: { raceUnanswered: true, abandonedRaceSince: 1_000_000 - 300_000 } }, message: 'waiting for leader to bootstrap' },
  { name: 'empty node clones from the leader', s: { me: 'node3', pg: emptyPg }, message: "trying to bootstrap from leader 'node1'", actions: ['clone'] },
  { name: 'empty node clones from a clonefrom replica', s: { me: 'node3', pg: emptyPg, members: ['node1', ['node2', { tags: { clonefrom: true } }], 'node3'] }, message: "trying to bootstrap from replica 'node2'", actions: ['clone'] },
  { name: 'no leader but a no_leader method: clone without leader', s: { me: 'node3', leader: null, pg: emptyPg, settings: { hasNoLeaderReplicaMethod: true } }, message: 'trying to bootstrap (without leader)', actions: ['clone'] },
  { name: 'no leader, no no_leader method: wait', s: { me: 'node3', leader: null, pg: emptyPg }, message: 'waiting for leader to bootstrap' },
  { name: 'paused with empty data directory', s: { me: 'node3', pg: emptyPg, settings: { paused: true } }, message: 'PAUSE: running with empty data directory', actions: [] },
  { name: 'lock holder with empty data releases the lock', s: { pg: emptyPg }, message: 'released leader key voluntarily as data dir empty and currently leader', actions: ['release_lock'] },
  { name: 'bootstrap running', s: { leader: null, pg: emptyPg, memory: { bootstrap: 'running' } }, message: 'bootstrap in progress' },
  { name: 'bootstrap failed cancels initialization', s: { leader: null, pg: emptyPg, memory: { bootstrap: 'failed' } }, message: 'removing initialize key after failed attempt to bootstrap the cluster', actions: ['cancel_initialization'] },
  { name: 'bootstrapped PG died cancels initialization', s: { leader: null, pg: crashedPrimary, memory: { bootstrap: 'started' } }, message: /removing initialize key/, actions: ['cancel_initialization'] },
  { name: 'waiting for end of recovery after custom bootstrap', s: { leader: null, pg: runningReplica, memory: { bootstrap: 'started' } }, message: 'waiting for end of recovery after bootstrap' },
  { name: 'post_bootstrap once primary', s: { leader: null, pg: runningPrimary, memory: { bootstrap: 'started' } }, message: 'running post_bootstrap', actions: ['post_bootstrap'] },
  { name: 'publish the new cluster', s: { leader: null, pg: runningPrimary, memory: { bootstrap: 'post_done' } }, message: 'initialized a new cluster', actions: ['finish_bootstrap'], fail: 'another node leads the cluster: abandoning this node\'s bootstrap', failActions: ['abandon_bootstrap'] },
  { name: 'another leader after my bootstrap: abandon it', s: { leader: 'node2', pg: runningPrimary, memory: { bootstrap: 'post_done' } }, message: "node2 leads the cluster: abandoning this node's bootstrap", actions: ['abandon_bootstrap'] },
  { name: 'another leader while post_bootstrap is due: abandon it', s: { leader: 'node2', pg: runningPrimary, memory: { bootstrap: 'started' } }, message: /node2 leads the cluster/, actions: ['abandon_bootstrap'] },

  // --- existing data ---
  { name: 'invalid sysid suggests reinitialize', s: { me: 'node2', pg: { ...runningReplica, sysid: null } }, message: 'data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize' },
  { name: 'sysid mismatch is fatal', s: { me: 'node2', pg: { ...runningReplica, sysid: '42' } }, message: /system ID mismatch, node node2 belongs to a different cluster: 7268616322854375442 != 42/, actions: ['fatal'] },
  { name: 'paused sysid mismatch only warns', s: { me: 'node2', pg: { ...runningReplica, sysid: '42' }, settings: { paused: true } }, message: /PAUSE: no action/ },
  { name: 'paused sysid mismatch with lock releases it', s: { pg: { ...runningPrimary, sysid: '42' }, settings: { paused: true } }, message: 'PAUSE: released leader key voluntarily due to the system ID mismatch', actions: ['release_lock'] },
  { name: 'standalone primary is adopted', s: { leader: null, initialize: null, members: [], peers: [], pg: runningPrimary }, message: 'acquired session lock as a leader', actions: ['write_initialize', 'acquire_lock'] },
  { name: 'running replica without initialize key aborts', s: { me: 'node2', leader: null, initialize: null, pg: runningReplica }, message: 'No initialize key in DCS and PostgreSQL is running as replica, aborting start', actions: ['fatal'] },

  // --- recovery of a stopped PostgreSQL ---
  { name: 'stopped replica starts as a secondary', s: { me: 'node2', pg: stoppedReplica }, message: 'starting as a secondary', actions: ['start'] },
  { name: 'crashed primary with the lock restarts as primary', s: { pg: crashedPrimary }, message: 'starting primary after failure', actions: ['update_lock', 'start'], fail: /checking whether|starting as a secondary/ },
  { name: 'lock holder with replica data starts read-only', s: { pg: stoppedReplica }, message: 'starting as readonly because i had the session lock', actions: ['update_lock', 'start'] },
  { name: 'primary_start_timeout 0 fails over after a crash', s: { pg: crashedPrimary, settings: { primaryStartTimeout: 0 } }, message: 'stopped PostgreSQL to fail over after a crash', actions: ['update_lock', 'demote:immediate'], fail: /checking whether|starting as a secondary/ },
  { name: 'master_start_timeout 0 (the same setting) fails over after a crash, demoting so peers race at once', s: { pg: { ...crashedPrimary, controlState: 'in crash recovery' }, settings: { primaryStartTimeout: 0 } }, message: 'stopped PostgreSQL to fail over after a crash', actions: ['update_lock', 'demote:immediate'] },
  { name: 'primary_start_timeout 0 without candidates restarts', s: { pg: crashedPrimary, settings: { primaryStartTimeout: 0 }, peers: [{ name: 'node2', reachable: false }, { name: 'node3', reachable: false }] }, message: 'starting primary after failure' },
  { name: 'former primary checks for divergence before following', s: { me: 'node2', pg: crashedPrimary }, message: 'checking whether the timeline of node2 diverged from node1', actions: ['check_rewind'] },
  { name: 'diverged former primary runs pg_rewind', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'need_rewind' } }, message: 'running pg_rewind from node1', actions: ['rewind'] },
  { name: 'diverged without pg_rewind reinitializes when allowed', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'need_rewind' }, settings: { usePgRewind: false, removeDataDirectoryOnDivergedTimelines: true } }, message: 'reinitializing due to diverged timelines', actions: ['reinitialize'] },
  { name: 'failed rewind reinitializes when allowed', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'failed' }, settings: { removeDataDirectoryOnRewindFailure: true } }, message: 'reinitializing due to diverged timelines', actions: ['reinitialize'] },
  { name: 'failed rewind without permission waits', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'failed' } }, message: 'postgres is not running', actions: [], reason: /run reinit/ },
  { name: 'a stopped replica whose rewind failed is not started unrewound', s: { me: 'node2', pg: stoppedReplica, memory: { rewind: 'failed' }, settings: { removeDataDirectoryOnRewindFailure: true } }, message: 'reinitializing due to diverged timelines', actions: ['reinitialize'] },
  { name: 'not diverged: start as a secondary', s: { me: 'node2', pg: crashedPrimary, memory: { rewind: 'not_needed' } }, message: 'starting as a secondary', actions: ['start'] },
  { name: 'paused: stopped postgres is left alone', s: { me: 'node2', pg: stoppedReplica, settings: { paused: true } }, message: 'PAUSE: postgres is not running', actions: [] },
  { name: 'paused: lock holder with stopped postgres releases the lock', s: { pg: crashedPrimary, settings: { paused: true } }, message: 'PAUSE: removed leader lock because postgres is not running', actions: ['release_lock'] },
  { name: 'failed start with the lock releases it', s: { pg: crashedPrimary, memory: { recovering: true } }, message: 'removed leader key after trying and failing to start postgres', actions: ['demote:immediate'], reason: /failed to start postgres/ },
  { name: 'failed restart of a crashed primary: key released and role demoted, then it starts as a replica', s: { leader: null, pg: crashedPrimary, memory: { recovering: false, demoted: true } }, message: 'starting as a secondary', actions: ['start'] },

  // --- primary_race_backoff (Patroni 4.1) ---
  { name: 'race backoff: the first loop_wait seconds always wait', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, memory: { prevWalPosition: 1000 } }, message: 'My (node2) wal position moved since last heart beat loop, 30 seconds until leader race', actions: [] },
  { name: 'race backoff: WAL still streaming in keeps waiting', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, pg: { receiverStreaming: true, walPosition: 2000 }, memory: { prevWalPosition: 1000, raceBackoffSince: 1_000_000 - 20_000 } }, message: 'My (node2) wal position moved since last heart beat loop, 10 seconds until leader race', actions: [] },
  { name: 'race backoff: WAL not moving any more races', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, pg: { receiverStreaming: true, walPosition: 1000 }, memory: { prevWalPosition: 1000, raceBackoffSince: 1_000_000 - 20_000 } }, message: 'promoted self to leader by acquiring session lock', actions: ['acquire_lock', 'promote'] },
  { name: 'race backoff: not streaming races after loop_wait', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, pg: { receiverStreaming: false, walPosition: 2000 }, memory: { prevWalPosition: 1000, raceBackoffSince: 1_000_000 - 11_000 } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'race backoff: expired races even while streaming', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, pg: { receiverStreaming: true, walPosition: 9000 }, memory: { prevWalPosition: 1000, raceBackoffSince: 1_000_000 - 31_000 } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'race backoff: off in pause', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30, paused: true }, memory: { prevWalPosition: 1000 } }, message: /^PAUSE: (?!My)/ },
  { name: 'race backoff: not with a manual failover candidate', s: { me: 'node2', leader: null, failover: { member: 'node2' }, settings: { primaryRaceBackoff: 30 }, memory: { prevWalPosition: 1000 } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'race backoff: not before a WAL position was published', s: { me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, memory: { prevWalPosition: null } }, message: 'promoted self to leader by acquiring session lock' },
  { name: 'race backoff: the former primary that lost its key waits too', s: { leader: null, pg: runningPrimary, settings: { primaryRaceBackoff: 30 }, memory: { prevWalPosition: 1000 } }, message: /^My \(node1\) wal position moved since last heart beat loop, 30 seconds until leader race$/, actions: [] },
  { name: 'failed start as replica', s: { me: 'node2', pg: stoppedReplica, memory: { recovering: true } }, message: 'failed to start postgres' },

  // --- long actions and startup ---
  { name: 'lock holder refreshes the lock during a long action', s: { memory: { longAction: { name: 'restart', label: 'restart', since: 0 } } }, message: 'updated leader lock during restart', actions: ['update_lock'], fail: 'lost leader lock during restart', failActions: ['demote:immediate-nolock'] },
  { name: 'long action on a replica', s: { me: 'node2', memory: { longAction: { name: 'clone', label: "bootstrap from leader 'node1'", since: 0 } }, pg: emptyPg }, message: "bootstrap from leader 'node1' in progress" },
  { name: 'promotion without the lock is cancelled', s: { me: 'node2', memory: { longAction: { name: 'promote', label: 'promote', since: 0 } } }, message: 'lost leader before promote', actions: ['cancel_long_action'] },
  { name: 'primary running a long action without the lock demotes', s: { me: 'node2', pg: runningPrimary, memory: { longAction: { name: 'restart', label: 'restart', since: 0 } } }, message: 'lost leader lock during restart', actions: ['demote:immediate-nolock'] },
  { name: 'graceful demotion in progress is left alone', s: { me: 'node1', leader: null, pg: runningPrimary, memory: { longAction: { name: 'demote', label: 'demote', since: 0 } } }, message: 'demote in progress', actions: [] },
  { name: 'primary still starting', s: { pg: { ...runningPrimary, starting: true }, memory: { startedAt: 1_000_000 - 100_000 } }, message: 'PostgreSQL is still starting up, 200 seconds until timeout', actions: ['update_lock'], fail: 'stopped PostgreSQL while starting up because leader key was lost' },
  { name: 'primary start timeout with a candidate fails over', s: { pg: { ...runningPrimary, starting: true }, memory: { startedAt: 0 } }, message: 'stopped PostgreSQL because of startup timeout', actions: ['update_lock', 'release_lock', 'demote:immediate'] },
  { name: 'primary start timeout without candidates waits', s: { pg: { ...runningPrimary, starting: true }, memory: { startedAt: 0 }, peers: [{ name: 'node2', reachable: false }, { name: 'node3', reachable: false }] }, message: 'primary start has timed out, but continuing to wait because failover is not possible' },
];

describe('decide()', () => {
  it('covers at least 80 scenarios', () => {
    expect(rows.length).toBeGreaterThanOrEqual(80);
  });

  it.each(rows)('$name', (row) => {
    const p = decide(scenario(row.s)).plan;
    if (typeof row.message === 'string') expect(p.message).toBe(row.message);
    else expect(p.message).toMatch(row.message);
    if (row.actions) expect(kinds(p)).toEqual(row.actions);
    if (row.fail !== undefined) {
      expect(p.onFail, 'plan has a fallback').toBeDefined();
      if (typeof row.fail === 'string') expect(p.onFail!.message).toBe(row.fail);
      else expect(p.onFail!.message).toMatch(row.fail);
    }
    if (row.failActions) expect(kinds(p.onFail!)).toEqual(row.failActions);
    if (row.reason) expect(p.reason ?? '').toMatch(row.reason);
  });
});

describe('decide() details', () => {
  it('after losing the race the next cycle runs at once and follows whoever won', () => {
    const p = decide(scenario({ me: 'node2', leader: null })).plan;
    expect(p.onFail!.actions).toEqual([{ type: 'refresh' }]);
  });
  it('after losing the race a nostream replica follows nobody', () => {
    const p = decide(scenario({ me: 'node2', leader: null, tags: { nostream: true } })).plan;
    expect(p.onFail!.actions).toEqual([{ type: 'follow', leader: null }, { type: 'refresh' }]);
  });
  it('after losing the race a replicatefrom replica keeps its upstream', () => {
    const p = decide(scenario({ me: 'node3', leader: null, tags: { replicatefrom: 'node2' } })).plan;
    expect(p.onFail!.actions).toEqual([{ type: 'follow', leader: 'node2' }, { type: 'refresh' }]);
  });
  it('the start attempt is remembered once the start action reports it began', () => {
    const { plan: p, memory } = decide(scenario({ me: 'node2', pg: stoppedReplica }));
    expect(p.actions[0]).toEqual({ type: 'start', role: 'replica', leader: 'node1' });
    expect(memory.recovering).toBe(false);
    const next = decide({ ...scenario({ me: 'node2', pg: stoppedReplica, memory }), events: [{ type: 'long_action_started', name: 'start', label: 'starting', since: 5, role: 'replica' }] });
    expect(next.memory).toMatchObject({ recovering: true, startedAt: 5, longAction: { name: 'start' } });
    expect(next.plan.message).toBe('starting in progress');
  });
  it('a successful start clears the recovering flag', () => {
    const { memory } = decide(scenario({ me: 'node2', memory: { recovering: true } }));
    expect(memory).toMatchObject({ recovering: false });
  });
  it('clones from the member the random pick names', () => {
    const s = scenario({ me: 'node4', pg: emptyPg, members: ['node1', ['node2', { tags: { clonefrom: true } }], ['node3', { tags: { clonefrom: true } }], 'node4'] });
    expect(decide({ ...s, random: () => 0.9 }).plan.actions[0]).toEqual({ type: 'clone', source: 'node3' });
  });
  it('replicatefrom picks that member to follow', () => {
    const p = decide(scenario({ me: 'node3', tags: { replicatefrom: 'node2' } })).plan;
    expect(p.actions[0]).toEqual({ type: 'follow', leader: 'node2' });
  });
  it('write_initialize carries my sysid', () => {
    const p = decide(scenario({ initialize: '' })).plan;
    expect(p.actions[0]).toEqual({ type: 'write_initialize', sysid: SYSID, createNew: false });
  });
  it('an unanswered race is timed from the first cycle that sees it abandoned, and forgotten once someone bootstraps', () => {
    const waiting = { leader: null, initialize: '', members: [WAITING('node2')], pg: emptyPg, memory: { raceUnanswered: true } } as const;
    const first = decide(scenario(waiting));
    expect(first.plan.actions).toEqual([]);
    expect(first.memory.abandonedRaceSince).toBe(1_000_000);
    // The same memory on the next cycle keeps the first sighting.
    expect(decide({ ...scenario(waiting), memory: first.memory, monotonic: 1_010_000 }).memory.abandonedRaceSince).toBe(1_000_000);
    const busy = decide({ ...scenario({ ...waiting, members: [['node2', { role: 'uninitialized', state: 'initializing new cluster' }]] }), memory: first.memory });
    expect(busy.memory.abandonedRaceSince).toBeNull();
    const later = decide({ ...scenario(waiting), memory: first.memory, monotonic: 1_030_000 });
    expect(later.plan.actions.map((a) => a.type)).toEqual(['clear_initialize']);
    expect(later.memory.abandonedRaceSince).toBeNull();
    expect(later.memory.raceUnanswered).toBe(false);
    // A leader settles it: the unanswered race is forgotten.
    expect(decide({ ...scenario({ me: 'node3', pg: emptyPg }), memory: first.memory }).memory.raceUnanswered).toBe(false);
  });
  it('asks for peer statuses only when a race or handover is possible', () => {
    expect(needsPeerStatuses(scenario({ leader: null }))).toBe(true);
    expect(needsPeerStatuses(scenario({ me: 'node2' }))).toBe(false);
    expect(needsPeerStatuses(scenario({}))).toBe(false);
    expect(needsPeerStatuses(scenario({ failover: { member: 'node2' } }))).toBe(true);
    expect(needsPeerStatuses(scenario({ dcsDown: true }))).toBe(false);
  });
  it('racing after the backoff keeps its start time (the timer does not restart)', () => {
    const p = decide(scenario({ me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, pg: { receiverStreaming: false }, memory: { prevWalPosition: 1000, raceBackoffSince: 1_000_000 - 11_000 } }));
    expect(p.memory).toMatchObject({ raceBackoffSince: 1_000_000 - 11_000 });
    const first = decide(scenario({ me: 'node2', leader: null, settings: { primaryRaceBackoff: 30 }, memory: { prevWalPosition: 1000 } }));
    expect(first.memory).toMatchObject({ raceBackoffSince: 1_000_000 });
  });
});
