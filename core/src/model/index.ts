export * from './names.js';
export * from './member.js';
export * from './values.js';
export * from './cluster.js';
export * from './timestamp.js';
export * from './malformed.js';
