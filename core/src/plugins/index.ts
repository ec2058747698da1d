export * from './manifest.js';
export * from './schema.js';
export * from './host.js';
export { findPackage, discoverPluginPackages, defaultSearchRoots } from './resolve.js';
