/**
 * The HA cycle as a pure decision (Patroni's `_run_cycle`, reference §2.2): given the DCS view,
 * local PostgreSQL facts, peers, settings, memory and clock, return the plan and its message.
 */
import type { Cluster } from '../model/cluster.js';
import { isFailoverPossible } from './health.js';
import { dcsUnavailablePlan } from './failsafe.js';
import { follow, nodeToFollow, processHealthyCluster, processUnhealthyCluster, remoteInStandby } from './leader.js';
import { standbyBootstrap, standbyRecover } from './standby.js';
import { maintenance } from './maintenance.js';
import { applyEvents } from './memory.js';
import { syncModeActive } from './sync-race.js';
import { LONG_ACTION_TEXT, plan, type Action, type AgentMemory, type Decision, type HaInput, type HaSettings, type Plan } from './types.js';

const isPrimary = (input: HaInput) => input.pg.running && input.pg.inRecovery === false;
const validSysid = (s: string | null | undefined): s is string => !!s && /^\d+$/.test(s) && s !== '0';
const PRIMARY_STATES = ['in production', 'in crash recovery', 'shutting down', 'shut down'];

/**
 * The one place memory changes: fold the events since the last cycle into memory, decide on that,
 * and return the plan with the memory for the next cycle (the decision's own updates merged in).
 */
export function decide(input: HaInput): Decision {
  const memory = observe(input, applyEvents(input.memory, input.events));
  const seen: HaInput = { ...input, memory, events: [] };
  const p = withSyncDemotion(seen, withMaintenance(seen, decideInner(seen)));
  const { remember, ...rest } = p;
  const next = remember ? { ...memory, ...remember } : memory;
  if (!input.settings.paused) return { plan: rest, memory: next };
  const pause = (x: Plan): Plan => ({ ...x, message: x.message.startsWith('PAUSE: ') ? x.message : `PAUSE: ${x.message}`, onFail: x.onFail && pause(x.onFail) });
  return { plan: pause(rest), memory: next };
}

/** What the facts alone settle: the role a running server shows, and the race back-off reset by a leader. */
function observe(input: HaInput, m: AgentMemory): AgentMemory {
  let next = m;
  if (input.pg.running && input.pg.inRecovery !== null && m.role !== 'demoted' && !m.longAction) {
    // A standby leader stays one while it holds the lock in recovery (a running server cannot tell it from a replica).
    const keep = m.role === 'standby_leader' && input.settings.standbyCluster && (!input.cluster || input.cluster.leaderName === input.name);
    const live = input.pg.inRecovery ? (keep ? 'standby_leader' : 'replica') : 'primary';
    if (m.role !== live) next = { ...next, role: live };
  }
  // Patroni resets the primary_race_backoff timer whenever there is a leader.
  if (input.cluster?.leader && next.raceBackoffSince) next = { ...next, raceBackoffSince: 0 };
  return next;
}

/** Patroni's primary_stop_timeout (s) when it applies: set above 0 and synchronous mode on. */
export function primaryStopTimeout(settings: HaSettings): number | undefined {
  const t = settings.primaryStopTimeout ?? 0;
  return t > 0 && settings.sync?.mode ? t : undefined;
}

/**
 * Demotions in synchronous mode: Patroni's primary_stop_timeout bounds the stop (a stopping primary
 * may wait for standbys that are gone), and once `/sync` is in force only its members may take the
 * key over, so a graceful handover waits for one of them to have the shutdown checkpoint.
 */
function withSyncDemotion(input: HaInput, p: Plan): Plan {
  const stopTimeout = primaryStopTimeout(input.settings);
  const syncOnly = input.cluster ? syncModeActive(input.settings.sync, input.cluster) : false;
  if (!stopTimeout && !syncOnly) return p;
  const extra = { ...(stopTimeout ? { stopTimeout } : {}), ...(syncOnly ? { syncOnly } : {}) };
  const bound = (x: Plan): Plan => ({
    ...x, actions: x.actions.map((a) => (a.type === 'demote' ? { ...a, ...extra } : a)), onFail: x.onFail && bound(x.onFail),
  });
  return bound(p);
}

/** Fence stand-down, slots and scheduled restarts ride on whichever branch of the plan runs. */
function withMaintenance(input: HaInput, p: Plan): Plan {
  // `before` runs first whatever happens, so only the main branch carries it; `after` ends either branch.
  const add = (x: Plan, first: boolean): Plan => {
    const { before, after } = maintenance(input, x);
    const head = first ? before : [];
    return head.length || after.length ? { ...x, actions: [...head, ...x.actions, ...after] } : x;
  };
  const main = add(p, true);
  return p.onFail ? { ...main, onFail: add(p.onFail, false) } : main;
}

/** Should the agent fetch peers' `GET /patroni` before deciding? Only when a race or handover is possible. */
export function needsPeerStatuses(input: Omit<HaInput, 'peers'>): boolean {
  const c = input.cluster;
  if (!c) return false;
  if (c.isUnlocked()) return true;
  if (c.leaderName === input.name) return !!c.failover || (!input.pg.running && input.settings.primaryStartTimeout === 0) || input.pg.starting;
  return false;
}

function decideInner(input: HaInput): Plan {
  const { cluster, pg, memory, name } = input;
  if (!cluster) return dcsUnavailable(input);
  const hasLock = cluster.leaderName === name;

  // Keep /initialize and /config present while holding the lock (e.g. after a DCS wipe).
  const upkeep: Action[] = [];
  if (hasLock && !validSysid(cluster.initialize) && validSysid(pg.sysid)) upkeep.push({ type: 'write_initialize', sysid: pg.sysid, createNew: cluster.initialize === null });
  if (hasLock && (!cluster.config || Object.keys(cluster.config.data).length === 0)) upkeep.push({ type: 'write_config' });
  const p = decideCycle(input, cluster, hasLock);
  return upkeep.length ? { ...p, actions: [...upkeep, ...p.actions] } : p;
}

/** Step 20: the DCS could not be read. A primary cannot know whether it still holds the lock: demote, unless failsafe peers confirm it. */
function dcsUnavailable(input: HaInput): Plan {
  return dcsUnavailablePlan(input);
}

function decideCycle(input: HaInput, cluster: Cluster, hasLock: boolean): Plan {
  const { pg, memory, settings } = input;

  // 5. A long action is running: keep the lock fresh, and never let a promotion or primary outlive it.
  if (memory.longAction) return longActionInProgress(input, cluster, hasLock);

  // 6. PostgreSQL is still starting up.
  if (pg.starting && !settings.paused && hasLock) return startingPrimary(input, cluster);

  // 7. We won the initialize race: finish bootstrapping.
  if (memory.bootstrap !== 'none') return postBootstrap(input, cluster);

  // 8. The previous cycle tried to start PostgreSQL.
  if (memory.recovering && !pg.running) {
    // Patroni's post_recover: the role becomes `demoted` (peers must not see a live primary here) and the key goes.
    if (hasLock) return { message: 'removed leader key after trying and failing to start postgres', actions: [{ type: 'demote', mode: 'immediate' }], remember: { recovering: false }, reason: 'failed to start postgres' };
    return { ...plan('failed to start postgres'), remember: { recovering: false } };
  }
  const remember = memory.recovering ? { recovering: false, startFailed: false, startTimeout: undefined } : undefined;
  const withMemo = (p: Plan): Plan => (remember ? { ...p, remember: { ...remember, ...p.remember } } : p);

  // 9. No data: bootstrap a new cluster or clone a replica.
  if (pg.dataDirEmpty) {
    const stop: Action[] = pg.running ? [{ type: 'stop' }] : [];
    if (hasLock) return plan('released leader key voluntarily as data dir empty and currently leader', ...stop, { type: 'release_lock' });
    if (settings.paused) return plan('running with empty data directory', ...stop);
    return withMemo(bootstrapOrClone(input, cluster));
  }

  // 10. Data present: it must belong to this cluster.
  if (!validSysid(pg.sysid)) return plan('data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize');
  if (validSysid(cluster.initialize)) {
    if (cluster.initialize !== pg.sysid) {
      if (settings.paused) {
        if (hasLock) return plan('released leader key voluntarily due to the system ID mismatch', { type: 'release_lock' });
      } else {
        return plan(`system ID mismatch, node ${input.name} belongs to a different cluster: ${cluster.initialize} != ${pg.sysid}`,
          { type: 'fatal', message: `system ID mismatch, node ${input.name} belongs to a different cluster: ${cluster.initialize} != ${pg.sysid}` });
      }
    }
  } else if (cluster.isUnlocked() && !settings.paused) {
    if (pg.running && pg.inRecovery === true) {
      return plan('No initialize key in DCS and PostgreSQL is running as replica, aborting start',
        { type: 'fatal', message: 'No initialize key in DCS and PostgreSQL is running as replica, aborting start' });
    }
    // Adopt an existing data directory (converting a standalone PostgreSQL).
    const adopt: Action = { type: 'write_initialize', sysid: pg.sysid, createNew: cluster.initialize === null };
    const rest = decideRunning(input, cluster, hasLock);
    return withMemo({ ...rest, actions: [adopt, ...rest.actions] });
  }
  return withMemo(decideRunning(input, cluster, hasLock));
}

/** Steps 11–12: recover a stopped PostgreSQL, else the locked/unlocked cluster logic. */
function decideRunning(input: HaInput, cluster: Cluster, hasLock: boolean): Plan {
  const { pg, settings } = input;
  if (!pg.running) {
    if (settings.paused) {
      if (hasLock) return plan('removed leader lock because postgres is not running', { type: 'release_lock' });
      return plan('postgres is not running');
    }
    return recover(input, cluster, hasLock);
  }
  return cluster.isUnlocked() ? processUnhealthyCluster(input, cluster) : processHealthyCluster(input, cluster);
}

function longActionInProgress(input: HaInput, cluster: Cluster, hasLock: boolean): Plan {
  const { memory, settings } = input;
  const action = memory.longAction!;
  const label = action.label || LONG_ACTION_TEXT[action.name];
  const noLock = (): Plan => {
    if (memory.bootstrap === 'none' && !settings.paused) {
      if (action.name === 'promote') return { message: 'lost leader before promote', actions: [{ type: 'cancel_long_action' }], reason: 'lost leader before promote' };
      if (isPrimary(input) && action.name !== 'demote') {
        return { message: `lost leader lock during ${label}`, actions: [{ type: 'demote', mode: 'immediate-nolock' }], reason: 'lost the leader lock' };
      }
    }
    return plan(`${label} in progress`);
  };
  if (hasLock && action.name !== 'demote') return { message: `updated leader lock during ${label}`, actions: [{ type: 'update_lock' }], onFail: noLock() };
  return noLock();
}

function startingPrimary(input: HaInput, cluster: Cluster): Plan {
  const timeout = input.memory.startTimeout ?? input.settings.primaryStartTimeout;
  const elapsed = input.memory.startedAt === null ? 0 : (input.monotonic - input.memory.startedAt) / 1000;
  const left = timeout - elapsed;
  const lost: Plan = { message: 'stopped PostgreSQL while starting up because leader key was lost', actions: [{ type: 'demote', mode: 'immediate-nolock' }], reason: 'lost the leader lock while starting' };
  if (left <= 0) {
    if (isFailoverPossible(input, cluster).ok) {
      return { message: 'stopped PostgreSQL because of startup timeout', actions: [{ type: 'update_lock' }, { type: 'release_lock' }, { type: 'demote', mode: 'immediate' }], onFail: lost };
    }
    return { message: 'primary start has timed out, but continuing to wait because failover is not possible', actions: [{ type: 'update_lock' }], onFail: lost };
  }
  return { message: `PostgreSQL is still starting up, ${Math.round(left)} seconds until timeout`, actions: [{ type: 'update_lock' }], onFail: lost };
}

function postBootstrap(input: HaInput, cluster: Cluster): Plan {
  const { memory, pg, name } = input;
  // Another node leads: it cleared this node's race key as abandoned (abandonedRace, while this agent
  // was frozen past its member key's ttl) and bootstrapped. This cluster was never published: keep
  // its data aside and join that one.
  const lost: Plan = { message: `${cluster.leaderName ?? 'another node'} leads the cluster: abandoning this node's bootstrap`, actions: [{ type: 'abandon_bootstrap' }], reason: 'another node bootstrapped the cluster' };
  if (memory.bootstrap !== 'running' && cluster.leaderName && cluster.leaderName !== name) return lost;
  if (memory.bootstrap === 'failed' || (memory.bootstrap !== 'running' && !pg.running)) {
    return { message: 'removing initialize key after failed attempt to bootstrap the cluster', actions: [{ type: 'cancel_initialization' }], reason: 'bootstrap failed' };
  }
  if (memory.bootstrap === 'running') return plan('bootstrap in progress');
  // A standby leader stays in recovery and skips post_bootstrap (Patroni's bootstrap_standby_leader).
  if ((memory.bootstrap === 'started' || memory.bootstrap === 'post_done') && input.settings.standbyCluster) return plan('initialized a new standby cluster', { type: 'finish_bootstrap', standby: true });
  if (memory.bootstrap === 'started') {
    if (pg.inRecovery !== false) return plan('waiting for end of recovery after bootstrap');
    return plan('running post_bootstrap', { type: 'post_bootstrap' });
  }
  return { ...plan('initialized a new cluster', { type: 'finish_bootstrap' }), onFail: lost };
}

function bootstrapOrClone(input: HaInput, cluster: Cluster): Plan {
  const p = bootstrapOrCloneInner(input, cluster);
  // The race this node could not get an answer for is settled once the key moved on or a leader exists.
  const settled = input.memory.raceUnanswered && (cluster.initialize !== '' || !cluster.isUnlocked());
  return settled ? { ...p, remember: { ...p.remember, raceUnanswered: false, abandonedRaceSince: null } } : p;
}

function bootstrapOrCloneInner(input: HaInput, cluster: Cluster): Plan {
  const { settings, tags, name } = input;
  const standby = settings.standbyCluster ? standbyBootstrap(input, cluster) : null;
  if (standby) return standby;
  if (cluster.isUnlocked() && cluster.initialize === null && !tags.nofailover && settings.canBootstrap) {
    return {
      message: 'trying to bootstrap a new cluster',
      actions: [{ type: 'race_initialize' }, { type: 'bootstrap' }],
      onFail: plan('failed to acquire initialize lock'),
    };
  }
  const source = cluster.getCloneMember(name, input.random);
  if (!cluster.isUnlocked() && source) {
    const role = source === cluster.leader ? 'leader' : 'replica';
    return plan(`trying to bootstrap from ${role} '${source.name}'`, { type: 'clone', source: source.name });
  }
  if (settings.hasNoLeaderReplicaMethod && cluster.initialize !== '') {
    return plan('trying to bootstrap (without leader)', { type: 'clone', source: null });
  }
  return abandonedRace(input, cluster) ?? waitForBootstrap({ abandonedRaceSince: null });
}

function waitForBootstrap(remember?: Plan['remember']): Plan {
  return { ...plan('waiting for leader to bootstrap'), reason: 'no leader to clone from', ...(remember ? { remember } : {}) };
}

/**
 * My race for the initialize key got no answer (its create may have committed: this node may have
 * won without knowing it), and the key claims a race (value '') that nobody runs: no leader, and
 * every other member's key shows a node without data that is not bootstrapping (Patroni's
 * `uninitialized`, `stopped`). Patroni waits there forever. After ttl seconds of it (a live winner
 * shows "initializing new cluster" within a loop or two) the key is removed, and the next cycle runs
 * a new race. Only the node whose race went unanswered does this; the others wait, as Patroni does.
 * A real winner frozen past its member key's ttl meanwhile finds the new cluster when it thaws and
 * abandons its own (postBootstrap).
 */
function abandonedRace(input: HaInput, cluster: Cluster): Plan | null {
  const { memory, settings, monotonic, name } = input;
  const idle = memory.raceUnanswered === true && cluster.initialize === '' && cluster.isUnlocked() && !settings.paused
    && cluster.members.every((m) => m.name === name || (m.role === 'uninitialized' && m.state === 'stopped'));
  if (!idle) return null;
  const since = memory.abandonedRaceSince ?? null;
  if (since === null) return waitForBootstrap({ abandonedRaceSince: monotonic });
  const waited = (monotonic - since) / 1000;
  if (waited < settings.ttl) return waitForBootstrap();
  return {
    message: `removing the initialize key: nobody has bootstrapped the cluster for ${Math.round(waited)} seconds since my race for it went unanswered`,
    actions: [{ type: 'clear_initialize' }],
    remember: { abandonedRaceSince: null, raceUnanswered: false },
    reason: 'abandoned bootstrap race',
  };
}

/** Step 11: PostgreSQL is not running. Start it in the role the lock says, rewinding first if needed. */
function recover(input: HaInput, cluster: Cluster, hasLock: boolean): Plan {
  const { pg, settings, memory } = input;
  const standby = settings.standbyCluster ? standbyRecover(input, cluster) : null;
  if (standby) return standby;
  if (hasLock) {
    const asSecondary = recoverAsSecondary(input, cluster);
    if (settings.primaryStartTimeout === 0 && isFailoverPossible(input, cluster).ok) {
      // demote('immediate') as Patroni does: role `demoted` (so peers race at once) and the key released.
      return { message: 'stopped PostgreSQL to fail over after a crash', actions: [{ type: 'update_lock' }, { type: 'demote', mode: 'immediate' }], onFail: asSecondary, reason: 'crashed with primary_start_timeout 0' };
    }
    const wasPrimary = PRIMARY_STATES.includes(pg.controlState ?? '') && !pg.recoveryConfigured && !memory.demoted;
    if (wasPrimary) {
      return { message: 'starting primary after failure', actions: [{ type: 'update_lock' }, { type: 'start', role: 'primary', leader: null }], onFail: asSecondary };
    }
    return { message: 'starting as readonly because i had the session lock', actions: [{ type: 'update_lock' }, { type: 'start', role: 'replica', leader: null }], onFail: asSecondary };
  }
  return recoverAsSecondary(input, cluster);
}

function recoverAsSecondary(input: HaInput, cluster: Cluster): Plan {
  const { pg, settings, memory } = input;
  const leader = cluster.leaderName && cluster.leaderName !== input.name ? cluster.leaderName : null;
  const target = nodeToFollow(input, cluster);
  // A former primary (or a node that never finished recovery as one) may have diverged from the leader.
  // So may a replica found diverged while running whose rewind has not happened (found by the simulation:
  // a rewind that failed because its source died restarted the replica unrewound, stuck for ever).
  const knownDiverged = ['need_rewind', 'need_reinit', 'failed'].includes(memory.rewind);
  const mayDiverge = !pg.recoveryConfigured || PRIMARY_STATES.slice(0, 3).includes(pg.controlState ?? '') || memory.demoted || knownDiverged;
  if (leader && mayDiverge) {
    switch (memory.rewind) {
      case 'unknown':
        return plan(`checking whether the timeline of ${input.name} diverged from ${leader}`, { type: 'check_rewind', leader, ...remoteInStandby(input) });
      case 'need_rewind':
        if (settings.usePgRewind) return { message: `running pg_rewind from ${leader}`, actions: [{ type: 'rewind', leader, ...remoteInStandby(input) }], reason: 'timeline diverged from the leader' };
        if (settings.removeDataDirectoryOnDivergedTimelines && !settings.standbyCluster) return { message: 'reinitializing due to diverged timelines', actions: [{ type: 'reinitialize', leader }], reason: 'timeline diverged from the leader' };
        break;
      case 'need_reinit':
      case 'failed':
        if (settings.removeDataDirectoryOnRewindFailure || settings.removeDataDirectoryOnDivergedTimelines) {
          return { message: 'reinitializing due to diverged timelines', actions: [{ type: 'reinitialize', leader }], reason: 'pg_rewind is not possible' };
        }
        return { ...plan('postgres is not running'), reason: 'timeline diverged and pg_rewind is not possible; run reinit' };
      default:
        break;
    }
  }
  return plan('starting as a secondary', { type: 'start', role: 'replica', leader: target });
}

export { follow };
