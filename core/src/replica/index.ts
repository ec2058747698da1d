export * from './contract.js';
export * from './custom-method.js';
export * from './create.js';
export * from './progress.js';
