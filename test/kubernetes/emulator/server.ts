/**
 * Kubernetes API EMULATOR: the HTTP front. Serves the core/v1 subset Patroni's and pgha's Kubernetes
 * DCS use (see README.md): GET/LIST/WATCH/POST/PUT/PATCH/DELETE/DELETECOLLECTION of namespaced
 * ConfigMaps, Endpoints, Pods, Services (also ServiceAccounts, Secrets), resourceVersion preconditions
 * (409 Conflict), label and field selectors, watch streams (bookmarks, 410 Gone on a resourceVersion
 * older than the event window), bearer-token authentication, optional RBAC from a Role manifest, an
 * endpoints controller for Services with a selector, and an audit log of (verb, resource) per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { applyPatch } from './patch.js';
import { ApiError, RESOURCES, Selector, Store, clone, type K8sObject, type WatchEvent } from './store.js';

export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

export interface EmulatorOptions {
  /** Accepted bearer tokens; empty: no authentication. */
  tokens?: string[];
  /** RBAC rules per token (tokens absent here are allowed everything). */
  rbac?: Record<string, RbacRule[]>;
  /** Interval of BOOKMARK events on watches that ask for them. */
  bookmarkMs?: number;
  /** Log each request (method, path, body) to stderr, for debugging a client. */
  log?: boolean;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** One request as the audit log keeps it; `user` is the bearer token's index in `tokens` (null: none). */
export interface AuditEntry { verb: string; resource: string; namespace: string | null; name: string | null; code: number; user: number | null }

export class KubernetesEmulator {
  readonly store = new Store();
  readonly audit: AuditEntry[] = [];
  private server: Server | null = null;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.store.onEvent((e) => this.controller(e));
  }

  get url(): string {
    const a = this.server?.address() as AddressInfo;
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${a.port}`;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => { void this.handle(req, res); };
    this.server = this.opts.tls ? createTlsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return this.url;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Drop every open watch stream (simulates an API server restart / dropped connections). */
  dropWatches(): void {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const q = url.searchParams;
    let verb = '';
    let resource = '';
    let ns: string | null = null;
    let name: string | null = null;
    const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1]?.trim();
    const idx = bearer ? (this.opts.tokens ?? []).indexOf(bearer) : -1;
    const user = idx >= 0 ? idx : null;
    try {
      if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') return send(res, 200, 'ok');
      if (url.pathname === '/_emulator/audit') return send(res, 200, this.audit);
      if (url.pathname === '/_emulator/compact' && req.method === 'POST') {
        this.store.compact();
        return send(res, 200, { resourceVersion: String(this.store.resourceVersion) });
      }
      this.authenticate(req);
      if (url.pathname === '/version') return send(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-pgha-emulator' });
      if (url.pathname === '/api') return send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
      const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?\/?$/.exec(url.pathname);
      if (!m || !RESOURCES[m[2]!]) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
      ns = m[1] ? decodeURIComponent(m[1]) : null;
      resource = m[2]!;
      name = m[3] ? decodeURIComponent(m[3]) : null;
      const watch = goBool(q.get('watch'));
      verb = verbOf(req.method ?? 'GET', name !== null, watch);
      if (ns === null && !['list', 'watch'].includes(verb)) throw new ApiError(404, 'NotFound', 'namespace required');
      this.authorize(req, verb, resource, name);
      const sel = () => Selector.parse(q.get('labelSelector'), q.get('fieldSelector'));
      switch (verb) {
        case 'get':
          return this.reply(res, user, verb, resource, ns, name, 200, this.store.get(resource, ns!, name!));
        case 'list':
          return this.reply(res, user, verb, resource, ns, name, 200, this.listBody(resource, this.store.list(resource, ns, sel())));
        case 'watch':
          this.audit.push({ verb, resource, namespace: ns, name, code: 200, user });
          return this.watch(res, resource, ns, sel(), q);
        case 'create': {
          const body = await readJson(req);
          return this.reply(res, user, verb, resource, ns, name, 201, this.store.create(resource, ns!, body));
        }
        case 'update': {
          const body = await readJson(req);
          const rv = body?.metadata?.resourceVersion;
          return this.reply(res, user, verb, resource, ns, name, 200,
            this.store.update(resource, ns!, name!, body, rv === undefined ? undefined : String(rv), RESOURCES[resource]!.createOnUpdate));
        }
        case 'patch': {
          const body = await readJson(req);
          if (this.opts.log) process.stderr.write(`PATCH ${url.pathname} ${req.headers['content-type']} ${JSON.stringify(body)}\n`);
          const cur = this.store.get(resource, ns!, name!);
          const next = applyPatch(String(req.headers['content-type'] ?? ''), cur, body);
          // A resourceVersion in the patch is a precondition on the current object.
          const rv = next.metadata?.resourceVersion !== cur.metadata.resourceVersion ? String(next.metadata?.resourceVersion) : cur.metadata.resourceVersion;
          return this.reply(res, user, verb, resource, ns, name, 200, this.store.update(resource, ns!, name!, next, rv, false));
        }
        case 'delete': {
          const body = await readJson(req).catch(() => null);
          const rv = body?.preconditions?.resourceVersion;
          return this.reply(res, user, verb, resource, ns, name, 200, this.store.delete(resource, ns!, name!, rv));
        }
        case 'deletecollection': {
          const items = this.store.list(resource, ns, sel()).map((o) => this.store.delete(resource, ns!, o.metadata.name));
          return this.reply(res, user, verb, resource, ns, name, 200, this.listBody(resource, items));
        }
        default:
          throw new ApiError(405, 'MethodNotAllowed', `${req.method} is not supported`);
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', e instanceof Error ? e.message : String(e));
      if (verb) this.audit.push({ verb, resource, namespace: ns, name, code: err.code, user });
      return send(res, err.code, statusBody(err));
    }
  }

  private reply(res: ServerResponse, user: number | null, verb: string, resource: string, ns: string | null, name: string | null, code: number, body: unknown) {
    this.audit.push({ verb, resource, namespace: ns, name, code, user });
    send(res, code, body);
  }

  private listBody(resource: string, items: K8sObject[]) {
    return {
      kind: `${RESOURCES[resource]!.kind}List`, apiVersion: 'v1',
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items: items.map((o) => {
        const c = clone(o);
        delete c.kind;
        delete c.apiVersion;
        return c;
      }),
    };
  }

  private authenticate(req: IncomingMessage) {
    const tokens = this.opts.tokens ?? [];
    if (!tokens.length) return;
    const m = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
    if (!m || !tokens.includes(m[1]!.trim())) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  }

  private authorize(req: IncomingMessage, verb: string, resource: string, name: string | null) {
    const token = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1]?.trim();
    const rules = token ? this.opts.rbac?.[token] : undefined;
    if (!rules) return;
    const ok = rules.some((r) => (r.apiGroups ?? ['']).some((g) => g === '' || g === '*')
      && (r.resources ?? []).some((x) => x === resource || x === '*')
      && (r.verbs ?? []).some((v) => v === verb || v === '*')
      && (!r.resourceNames?.length || (name !== null && r.resourceNames.includes(name))));
    if (!ok) throw new ApiError(403, 'Forbidden', `${resource}${name ? ` "${name}"` : ''} is forbidden: cannot ${verb} resource "${resource}"`);
  }

  private watch(res: ServerResponse, resource: string, ns: string | null, sel: Selector, q: URLSearchParams) {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    this.streams.add(res);
    const write = (type: string, object: unknown) => { if (!res.destroyed) res.write(JSON.stringify({ type, object }) + '\n'); };
    const relevant = (e: WatchEvent) => e.resource === resource && (ns === null || e.namespace === ns);
    const deliver = (e: WatchEvent) => {
      if (!relevant(e)) return;
      const now = sel.matches(e.object);
      const before = e.old ? sel.matches(e.old) : false;
      if (e.type === 'DELETED') {
        if (before) write('DELETED', e.object);
      } else if (now && before) write('MODIFIED', e.object);
      else if (now) write('ADDED', e.object);
      // A label change that takes the object out of the selection ends it for this watcher.
      else if (before) write('DELETED', e.object);
    };
    const rvParam = q.get('resourceVersion');
    const since = rvParam && rvParam !== '0' ? Number(rvParam) : null;
    if (since !== null) {
      const backlog = Number.isFinite(since) ? this.store.since(since) : null;
      if (!backlog) {
        write('ERROR', statusBody(new ApiError(410, 'Expired', `too old resource version: ${rvParam} (${this.store.oldestWatchable})`)));
        this.streams.delete(res);
        res.end();
        return;
      }
      backlog.forEach(deliver);
    } else {
      for (const o of this.store.list(resource, ns, sel)) write('ADDED', o);
    }
    const off = this.store.onEvent(deliver);
    const timers: NodeJS.Timeout[] = [];
    const finish = () => {
      off();
      timers.forEach((t) => clearTimeout(t));
      this.streams.delete(res);
      if (!res.writableEnded) res.end();
    };
    if (goBool(q.get('allowWatchBookmarks'))) {
      const t = setInterval(() => write('BOOKMARK', { kind: RESOURCES[resource]!.kind, apiVersion: 'v1', metadata: { resourceVersion: String(this.store.resourceVersion) } }), this.opts.bookmarkMs ?? 5000);
      timers.push(t);
    }
    const timeout = Number(q.get('timeoutSeconds'));
    if (timeout > 0) timers.push(setTimeout(finish, timeout * 1000));
    res.on('close', finish);
  }

  /** Endpoints controller: a Service with a selector gets Endpoints of the Pods it selects (those with an IP). */
  private controller(e: WatchEvent) {
    if (e.resource !== 'pods' && e.resource !== 'services') return;
    for (const svc of this.store.list('services', e.namespace, Selector.parse(null, null))) {
      const selector = svc.spec?.selector;
      if (!selector || typeof selector !== 'object' || !Object.keys(selector).length) continue;
      const pods = this.store.list('pods', e.namespace, Selector.parse(Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(','), null))
        .filter((p) => p.status?.podIP);
      const ports = (svc.spec.ports ?? []).map((p: any) => ({ ...(p.name ? { name: p.name } : {}), port: Number(p.targetPort ?? p.port), protocol: p.protocol ?? 'TCP' }));
      const subsets = pods.length ? [{
        addresses: pods.map((p) => ({ ip: p.status.podIP, targetRef: { kind: 'Pod', namespace: e.namespace, name: p.metadata.name, uid: p.metadata.uid } })),
        ports,
      }] : [];
      const body = { metadata: { name: svc.metadata.name, labels: svc.metadata.labels }, subsets };
      try {
        this.store.update('endpoints', e.namespace, svc.metadata.name, body, undefined, true);
      } catch { /* a racing writer; the next event recomputes */ }
    }
  }
}

/** Query booleans as the API server parses them (Go's strconv.ParseBool): Python clients send `True`. */
function goBool(v: string | null): boolean {
  return v !== null && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v);
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET': return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST': return named ? 'unsupported' : 'create';
    case 'PUT': return named ? 'update' : 'unsupported';
    case 'PATCH': return named ? 'patch' : 'unsupported';
    case 'DELETE': return named ? 'delete' : 'deletecollection';
    default: return 'unsupported';
  }
}

function statusBody(err: ApiError) {
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason,
    ...(err.details ? { details: err.details } : {}), code: err.code,
  };
}

function send(res: ServerResponse, code: number, body: unknown) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const MAX_BODY = 3 * 1024 * 1024;

function readJson(req: IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new ApiError(413, 'RequestEntityTooLarge', 'request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      if (!text.trim()) return resolve(null);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ApiError(400, 'BadRequest', 'the request body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}
