/** Start the Consul emulator as a child process on a free loopback port; stopped by PID. */
import { resolve } from 'node:path';
import { freePort } from '../../helpers/ports.js';
import { startProc, waitFor, type Proc } from '../../helpers/procs.js';

export interface EmulatorProcess {
  readonly port: number;
  readonly url: string;
  /** `127.0.0.1:<port>`, for a `consul: host:` setting. */
  readonly hostPort: string;
  readonly proc: Proc;
  stop(): Promise<void>;
}

export interface EmulatorArgs {
  readonly ttlMultiplier?: number;
  readonly sessionTtlMin?: string;
  readonly aclToken?: string;
  readonly readTokens?: readonly string[];
}

const MAIN = resolve(import.meta.dirname, 'main.ts');

export async function startConsulEmulator(a: EmulatorArgs = {}): Promise<EmulatorProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', MAIN, '--port', String(port)];
  if (a.ttlMultiplier !== undefined) args.push('--ttl-multiplier', String(a.ttlMultiplier));
  if (a.sessionTtlMin) args.push('--session-ttl-min', a.sessionTtlMin);
  if (a.aclToken) args.push('--acl-token', a.aclToken);
  for (const t of a.readTokens ?? []) args.push('--read-token', t);
  const proc = startProc(process.execPath, args, { cwd: resolve(import.meta.dirname, '../../..') });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/v1/status/leader`, { signal: AbortSignal.timeout(1000) })).ok, 30_000,
    `the consul emulator on ${port} (output: ${proc.output()})`, 100);
  return { port, url, hostPort: `127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}
