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
  /** PEM files: serve HTTPS; with `ca`, require client certificates. */
  readonly tls?: { cert: string; key: string; ca?: string };
}

const MAIN = resolve(import.meta.dirname, 'main.ts');

export async function startConsulEmulator(a: EmulatorArgs = {}): Promise<EmulatorProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', MAIN, '--port', String(port)];
  if (a.ttlMultiplier !== undefined) args.push('--ttl-multiplier', String(a.ttlMultiplier));
  if (a.sessionTtlMin) args.push('--session-ttl-min', a.sessionTtlMin);
  if (a.aclToken) args.push('--acl-token', a.aclToken);
  for (const t of a.readTokens ?? []) args.push('--read-token', t);
  if (a.tls) args.push('--tls-cert', a.tls.cert, '--tls-key', a.tls.key, ...(a.tls.ca ? ['--tls-ca', a.tls.ca] : []));
  const proc = startProc(process.execPath, args, { cwd: resolve(import.meta.dirname, '../../..') });
  const url = `${a.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitFor(() => {
    if (proc.child.exitCode !== null) throw new Error(`the consul emulator exited: ${proc.output()}`);
    return proc.output().includes('listening on');
  }, 30_000, `the consul emulator on ${port}`, 50);
  return { port, url, hostPort: `127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}
