export * from './driver.js';
export * from './cluster-builder.js';
export * from './facade.js';
