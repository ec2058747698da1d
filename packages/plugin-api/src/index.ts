/**
 * @pgha/plugin-api: everything a pgha plugin builds against, and nothing else. Depend on it with a
 * caret range (`^1.0.0`, as a peer dependency); any pgha whose plugin API is 1.y (y >= your minor)
 * loads your plugin. The contract and its promises are described in docs/plugins.md.
 */
export * from './version.js';
export * from './errors.js';
export * from './dcs.js';
export * from './replica.js';
export * from './services.js';
export * from './schema.js';
export * from './manifest.js';
