/**
 * Raft wire and storage types. Node ids are the members' `self_addr` strings (as in Patroni).
 * Entry data is opaque to Raft (the KV layer's JSON); '' is the leader's no-op of a new term.
 */
export type NodeId = string;

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

export interface Snapshot {
  /** Last log index and term the snapshot covers. */
  readonly index: number;
  readonly term: number;
  /** State machine image at `index` (opaque to Raft). */
  readonly data: string;
}

export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
}

/** What a node finds on disk when it starts. */
export interface PersistedState {
  readonly hard: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, ascending and contiguous. */
  readonly entries: readonly Entry[];
}

/** Storage operations, to be made durable in order before any message of the same step is sent. */
export type StorageOp =
  | { readonly kind: 'hard'; readonly hard: HardState }
  /** Drop every entry with index >= from, then append `entries` (which start at `from`). */
  | { readonly kind: 'append'; readonly from: number; readonly entries: readonly Entry[] }
  /** Keep `snapshot`, drop entries with index <= snapshot.index. */
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

interface Base { readonly term: number; readonly from: NodeId; readonly to: NodeId }

export interface VoteRequest extends Base { readonly type: 'vote'; readonly lastIndex: number; readonly lastTerm: number }
export interface VoteResponse extends Base { readonly type: 'voteResp'; readonly granted: boolean }
export interface AppendRequest extends Base {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** Heartbeat round, echoed back; confirms leadership for read-index. */
  readonly round: number;
}
export interface AppendResponse extends Base {
  readonly type: 'appendResp';
  readonly success: boolean;
  /** On success the follower's match index; on failure the index the leader should retry after. */
  readonly index: number;
  readonly round: number;
}
export interface SnapshotRequest extends Base { readonly type: 'snapshot'; readonly snapshot: Snapshot; readonly round: number }

export type RaftMessage = VoteRequest | VoteResponse | AppendRequest | AppendResponse | SnapshotRequest;

export type Role = 'follower' | 'candidate' | 'leader';
