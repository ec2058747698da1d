/**
 * What synchronous replication changes in the leader race (Patroni's sync_mode_is_active and
 * quorum_commit_mode_is_active): requested in the configuration, active once a leader wrote `/sync`.
 */
import type { Cluster } from '../model/cluster.js';
import type { HaInput, SyncSettings } from './types.js';

export interface SyncRace {
  /** synchronous_mode is on (or quorum). */
  readonly requested: boolean;
  readonly quorumRequested: boolean;
  /** Requested and `/sync` has a leader: only its members may take over. */
  readonly active: boolean;
  /** Quorum mode active: the race counts votes of the `/sync` voters. */
  readonly quorum: boolean;
  /** Is `name` in the voting set (the leader and voters of `/sync`, quorum mode only)? */
  isVoter(name: string): boolean;
}

/** Synchronous (or quorum) mode is requested and a leader wrote `/sync`: only its members may take over. */
export function syncModeActive(sync: SyncSettings | undefined, cluster: Cluster): boolean {
  return (sync?.mode ?? false) !== false && !cluster.sync.isEmpty;
}

export function syncRace(input: HaInput, cluster: Cluster): SyncRace {
  const mode = input.settings.sync?.mode ?? false;
  const requested = mode !== false;
  const active = syncModeActive(input.settings.sync, cluster);
  // A `/sync` written in quorum mode (quorum > 0) is read by votes even after a switch to `on`,
  // until the leader rewrites it: its voters need not all hold every commit.
  const quorum = active && (mode === 'quorum' || cluster.sync.quorum > 0);
  return {
    requested, quorumRequested: mode === 'quorum', active, quorum,
    isVoter: (name) => quorum && cluster.sync.matches(name, true),
  };
}
