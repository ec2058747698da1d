import { runDcsConformance } from './conformance.js';
import { MemoryDriver, MemoryStore } from './memory-driver.js';

// The in-memory driver exists to unit-test core logic; running the kit against it also tests the kit.
const store = new MemoryStore();
runDcsConformance('in-memory', () => ({
  ttl: 2,
  create: async (ctx) => new MemoryDriver(store, ctx),
  putRaw: async (ctx, key, value) => { new MemoryDriver(store, ctx).putRaw(key, value); },
}));
