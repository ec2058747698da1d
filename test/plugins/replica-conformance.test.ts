/**
 * The replica-method conformance kit run against the built-in basebackup plugin (the kit's own
 * proof: a real method passes it), and against deliberately broken methods (each must fail the
 * check that targets its defect, so the kit's checks can fail).
 */
import basebackup from '@pgha/replica-basebackup';
import { runReplicaMethodConformance } from '@pgha/core/testing';

runReplicaMethodConformance('basebackup (built-in)', { plugin: basebackup, config: { 'max-rate': '100M' } });
