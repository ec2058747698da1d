export { Agent, type AgentDeps } from './agent.js';
export { startAgent, PATRONI_COMPATIBLE_VERSION, type RunningAgent, type StartAgentOptions } from './start.js';
export { ControllerPort } from './postgres-adapter.js';
export type { PostgresPort, FollowTarget } from './postgres-port.js';
export { fetchPeerStatus, fetchPeerStatuses, peerStatusFromJson } from './peers.js';
export { memberData, publishedTags } from './member-data.js';
export { checkDiverged, parseTimelineHistory } from './divergence.js';
