/**
 * Replica-creation contract (defined in @pgha/plugin-api; see its replica.ts for the rules): a
 * method creates PGDATA from a source member (or from nothing, for `no_leader` methods) and reports
 * success by exit code 0. The core's request carries its own ProgressTracker, which built-in methods
 * feed with tool output; third-party methods see only `update()`.
 */
import type { ReplicaCreateRequest as ApiReplicaCreateRequest, ReplicaMethod as ApiReplicaMethod } from '@pgha/plugin-api';
import type { ProgressTracker } from './progress.js';

export type { ReplicaMethodContext, ReplicaSource, SourceConnection } from '@pgha/plugin-api';

export interface ReplicaCreateRequest extends ApiReplicaCreateRequest {
  /** This attempt's progress (elapsed time is tracked by the chain; methods add percent/bytes when the tool reports them). */
  readonly progress?: ProgressTracker;
}

export interface ReplicaMethod extends ApiReplicaMethod {
  /** Create the replica's data directory; resolves with the exit code (0 = success). */
  create(req: ReplicaCreateRequest): Promise<number>;
}
