/**
 * Run many seeds of the whole-cluster simulation, in this thread or spread over worker threads
 * (each seed is independent, so threads only change how soon all of them are done, never what any
 * seed does). A worker thread loads the TypeScript sources through tsx, as `npm run` scripts do.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SimCluster } from './cluster.js';

export interface SeedRange {
  readonly first: number;
  readonly count: number;
  /** Run every `stride`-th seed from `first` (a worker's share). */
  readonly stride?: number;
  /** Stop after this many failures. */
  readonly maxFailures?: number;
}

/** The failures (each names its seed and replay command), in seed order. */
export async function runSeeds(r: SeedRange): Promise<string[]> {
  const failures: string[] = [];
  const stride = r.stride ?? 1;
  for (let seed = r.first; seed < r.first + r.count && failures.length < (r.maxFailures ?? 3); seed += stride) {
    await new SimCluster({ seed }).run().catch((e: unknown) => { failures.push(e instanceof Error ? e.message : String(e)); });
  }
  return failures;
}

/** How many threads to use by default: one per CPU, at most four. */
export function defaultSimThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

// The worker: register tsx's loader, then run its share and post the failures back.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import(workerData.tsx);
  register();
  const { runSeeds } = await import(workerData.module);
  parentPort.postMessage(await runSeeds(workerData.range));
})().catch((e) => parentPort.postMessage([String(e && e.stack || e)]));
`;

/** `runSeeds` over `threads` worker threads, seed i on thread (i - first) mod threads. */
export async function runSeedsInThreads(first: number, count: number, threads: number): Promise<string[]> {
  if (threads <= 1) return runSeeds({ first, count });
  const tsx = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  const module = import.meta.url; // this module, as loaded here (sources through tsx, or the build)
  const shares = Array.from({ length: Math.min(threads, count) }, (_, i) => new Promise<string[]>((resolve, reject) => {
    const range: SeedRange = { first: first + i, count: count - i, stride: threads };
    const w = new Worker(WORKER, { eval: true, workerData: { tsx: pathToFileURL(tsx).href, module, range } });
    w.once('message', (failures: string[]) => { resolve(failures); void w.terminate(); });
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`simulation thread ${i} exited (${code}) before reporting`)));
  }));
  return (await Promise.all(shares)).flat();
}
