/** Quorum commit (`synchronous_mode: quorum`): placeholder until the planner lands. */
import type { SyncKey, SyncStep } from './sync-steps.js';
import type { SyncSnapshot } from './sync.js';

export interface QuorumInput {
  readonly me: string;
  readonly key: SyncKey;
  readonly state: SyncSnapshot;
  readonly minNodes: number;
  readonly wanted: number;
}

export function planQuorum(_input: QuorumInput): SyncStep[] { return []; }
export function planQuorumPrepromote(_me: string, _key: SyncKey, _minNodes: number): SyncStep[] { return []; }
