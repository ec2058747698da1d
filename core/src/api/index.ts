export type { ApiBackend, NodeStatus, RestartRequest } from './backend.js';
export type { ApiServerOptions, RestApiConfig } from './types.js';
export { createApiServer, apiUrl, parseListen as parseApiListen, isHttpsConfig as isApiHttps, type ApiServer } from './server.js';
export { clusterAsJson } from './cluster-json.js';
export { statusDocument } from './status.js';
export { patchConfig as patchDynamicConfig } from './merge-patch.js';
export { parseIntWithUnit, postgresVersionToInt } from './parsing.js';
