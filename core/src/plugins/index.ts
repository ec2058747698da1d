export * from './manifest.js';
export * from './schema.js';
export * from './host.js';
export * from './members.js';
export * from './replica-resolver.js';
export { findPackage, discoverPluginPackages, defaultSearchRoots } from './resolve.js';
