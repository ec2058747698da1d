/**
 * Kubernetes API EMULATOR as a standalone process:
 *
 *   npx tsx test/kubernetes/emulator/main.ts --port 6443 --token secret [--rbac secret=examples/kubernetes/rbac.yaml]
 *     [--tls-cert cert.pem --tls-key key.pem]
 *
 * Prints `listening on http://127.0.0.1:PORT` once ready. SIGTERM/SIGINT stop it.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KubernetesEmulator, type RbacRule } from './server.js';

function args(argv: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

/** The rules of every Role in a manifest file. */
export function rolesFromManifest(file: string): RbacRule[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS())
    .filter((d) => d?.kind === 'Role' || d?.kind === 'ClusterRole').flatMap((d) => d.rules ?? []);
}

const a = args(process.argv.slice(2));
const rbac: Record<string, RbacRule[]> = {};
for (const spec of a.get('rbac') ?? []) {
  const i = spec.indexOf('=');
  if (i < 1) throw new Error('--rbac wants TOKEN=ROLE_MANIFEST.yaml');
  rbac[spec.slice(0, i)] = rolesFromManifest(spec.slice(i + 1));
}
const emulator = new KubernetesEmulator({
  tokens: a.get('token') ?? [],
  rbac,
  log: a.has('log'),
  tls: a.has('tls-cert') ? { cert: readFileSync(a.get('tls-cert')![0]!), key: readFileSync(a.get('tls-key')?.[0] ?? '') } : undefined,
  bookmarkMs: a.has('bookmark-ms') ? Number(a.get('bookmark-ms')![0]) : undefined,
});
const url = await emulator.listen(Number(a.get('port')?.[0] ?? 0), a.get('host')?.[0] ?? '127.0.0.1');
process.stdout.write(`listening on ${url}\n`);
const stop = () => { void emulator.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
