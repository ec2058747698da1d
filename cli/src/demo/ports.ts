/** Loopback ports for the demo: fixed, familiar defaults when free (bind-tested), else the next free ones. */
import { createServer } from 'node:net';

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel picks (for when a whole default range is taken). */
function ephemeralPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `count` free ports starting at `base` (5432, 5433, ... when free), skipping ports that are taken
 * or already handed out in `reserved`; falls back to kernel-chosen ports after 200 candidates.
 */
export async function pickPorts(base: number, count: number, reserved: Set<number>): Promise<number[]> {
  const out: number[] = [];
  for (let p = base; out.length < count && p < base + 200 && p < 65536; p++) {
    if (reserved.has(p)) continue;
    if (await isPortFree(p)) {
      out.push(p);
      reserved.add(p);
    }
  }
  while (out.length < count) {
    const p = await ephemeralPort();
    if (reserved.has(p)) continue;
    out.push(p);
    reserved.add(p);
  }
  return out;
}
