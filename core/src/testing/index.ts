export { runDcsConformance, type ConformanceTarget } from './conformance.js';
export { MemoryDriver, MemoryStore } from './memory-driver.js';
