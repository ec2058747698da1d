export * from './types.js';
export * from './decide.js';
export * from './health.js';
export { nodeToFollow, historyNeedsUpdate, manualFailoverFromLeader } from './leader.js';
