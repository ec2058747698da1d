export { runDcsConformance, type ConformanceTarget } from './conformance.js';
export { MemoryDriver, MemoryStore } from './memory-driver.js';
export { runReplicaMethodConformance, type ReplicaConformanceTarget } from './replica-conformance.js';
