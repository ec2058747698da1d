export * from './protocol.js';
export { FenceClient, fenceFiles } from './client.js';
export { KernelWatchdog, watchdogMode, type WatchdogMode as KernelWatchdogMode } from './kernel-watchdog.js';
export { PrimaryGuard } from './guard.js';
export { fenceTiming, safetyMargin, type FenceTiming } from './timing.js';
