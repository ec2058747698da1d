/**
 * The Kubernetes API emulator (test/kubernetes/emulator) for suites: started as its own process on a
 * free loopback port, stopped by PID; a tiny admin client that plays the kubelet/StatefulSet part
 * (creating the Pods agents then patch), and kubeconfig files for Patroni and pgha.
 */
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { startProc, waitFor, type Proc } from '../helpers/procs.js';

const MAIN = fileURLToPath(new URL('./emulator/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningEmulator {
  readonly url: string;
  /** The self-signed certificate (PEM file) when started with tls. */
  readonly caFile: string | null;
  readonly token: string;
  readonly proc: Proc;
  readonly api: K8sAdmin;
  stop(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (openssl), valid one day. */
export function selfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-k8s-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=kubernetes-emulator', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is missing: apt-get install openssl (or run scripts/install-deps.sh)');
  }
  return { cert, key };
}

export async function startEmulator(opts: { token?: string; rbac?: Record<string, string>; bookmarkMs?: number; tls?: boolean } = {}): Promise<RunningEmulator> {
  const token = opts.token ?? `tok-${Math.random().toString(36).slice(2)}`;
  const port = await freePort();
  const args = ['--import', 'tsx', MAIN, '--port', String(port), '--token', token];
  for (const [t, file] of Object.entries(opts.rbac ?? {})) args.push('--token', t, '--rbac', `${t}=${file}`);
  if (opts.bookmarkMs) args.push('--bookmark-ms', String(opts.bookmarkMs));
  const tls = opts.tls ? selfSignedCert() : null;
  if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  // K8S_EMULATOR_LOG=file: every PATCH body goes there (debugging a client).
  if (process.env.K8S_EMULATOR_LOG) args.push('--log', 'true');
  const proc = startProc(process.execPath, args, { cwd: ROOT, logFile: process.env.K8S_EMULATOR_LOG });
  await waitFor(() => proc.output().includes('listening on'), 30_000, `kubernetes emulator to listen (${proc.output()})`);
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const api = new K8sAdmin(url, token, tls ? readFileSync(tls.cert, 'utf8') : undefined);
  return { url, caFile: tls?.cert ?? null, token, proc, api, stop: () => proc.stop() };
}

export class K8sAdmin {
  constructor(readonly url: string, private readonly token: string, private readonly ca?: string) {}

  /** One request (node:http or https with the emulator's CA), the body parsed when it is JSON. */
  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
    const u = new URL(this.url + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
        method, ca: this.ca, timeout: 10_000,
        headers: { authorization: `Bearer ${this.token}`, ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: any = text;
          try { parsed = JSON.parse(text); } catch { /* plain text */ }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** What a StatefulSet + kubelet would do: a running Pod with labels and an IP. */
  async createPod(namespace: string, name: string, labels: Record<string, string>, ip = '127.0.0.1'): Promise<void> {
    const r = await this.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
      metadata: { name, labels },
      spec: { hostname: name, nodeName: 'node-1', containers: [{ name: 'postgres', image: 'pgha' }] },
      status: { phase: 'Running', podIP: ip },
    });
    if (r.status !== 201 && r.status !== 409) throw new Error(`create pod ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async get(namespace: string, resource: string, name: string): Promise<any | null> {
    const r = await this.request('GET', `/api/v1/namespaces/${namespace}/${resource}/${name}`);
    return r.status === 200 ? r.body : null;
  }

  async list(namespace: string, resource: string, labelSelector?: string): Promise<any[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const r = await this.request('GET', `/api/v1/namespaces/${namespace}/${resource}${q}`);
    if (r.status !== 200) throw new Error(`list ${resource}: ${r.status}`);
    return r.body.items;
  }

  async audit(): Promise<Array<{ verb: string; resource: string; namespace: string | null; name: string | null; code: number; user: number | null }>> {
    return (await this.request('GET', '/_emulator/audit')).body;
  }
}

/** A kubeconfig with one cluster/user/context (named `kind-kind`, Patroni's default context). */
export function writeKubeconfig(dir: string, url: string, token: string, context = 'kind-kind', caFile?: string | null): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', `current-context: ${context}`,
    'clusters:', `- name: emulator`, '  cluster:', `    server: ${url}`, ...(caFile ? [`    certificate-authority: ${caFile}`] : []),
    'users:', '- name: agent', '  user:', `    token: ${token}`,
    'contexts:', `- name: ${context}`, '  context:', '    cluster: emulator', '    user: agent',
    '',
  ].join('\n'), { mode: 0o644 });
  return file;
}
