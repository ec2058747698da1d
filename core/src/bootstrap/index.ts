export * from './user-options.js';
export * from './custom.js';
export * from './roles.js';
export * from './bootstrap.js';
