/**
 * Loopback ports for test servers. Each vitest worker owns its own range (by VITEST_POOL_ID), so
 * parallel test files never collide; within a range we still skip ports something else holds.
 */
import { createServer } from 'node:net';

const RANGE = 400;
const BASE = 21000;
// Start at a per-process offset so separate vitest runs on one machine rarely pick the same ports.
let next = process.pid % RANGE;

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free 127.0.0.1 port from this worker's range. */
export async function freePort(): Promise<number> {
  const pool = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? '1') % 40;
  const start = BASE + pool * RANGE;
  for (let i = 0; i < RANGE; i++) {
    const port = start + ((next++) % RANGE);
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port in ${start}..${start + RANGE - 1}`);
}

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort());
  return out;
}
