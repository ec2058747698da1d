// The replica-method conformance kit pgha ships: a real primary, a clone PostgreSQL starts from,
// failure by exit status, cleanup on cancel. With only the primary listed, the method falls back to it.
import { runReplicaMethodConformance } from '@pgha/core/testing';
import plugin from './index.js';

runReplicaMethodConformance('leastloaded', { plugin, config: { max_rate: '100M' } });
