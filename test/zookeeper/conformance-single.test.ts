import { runDcsConformance } from '@pgha/core/testing';
import { conformanceTarget, useZookeeper } from './harness.js';

// The kit against one real ZooKeeper 3.8 server.
const zk = useZookeeper(1);
runDcsConformance('zookeeper (standalone)', () => conformanceTarget(zk));
