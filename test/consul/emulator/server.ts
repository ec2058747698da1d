/**
 * A Consul EMULATOR (not Consul): a single-server, single-datacenter HTTP API that behaves like
 * Consul's /v1 endpoints Patroni and pgha use. No Consul server can be installed on the machines
 * this project tests on, so this stands in for one; README.md beside this file lists what it
 * models and what it does not. Routes are a table; handlers return a Reply, one place writes it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { field, LocalAgent } from './agent.js';
import { parseDuration } from './duration.js';
import { ConsulState, type EmulatorOptions, type SessionEntry } from './state.js';
import { agentSelfView, catalogNodeView, catalogServicesView, catalogServiceView, healthServiceView, memberView, view } from './views.js';

export interface Reply {
  status: number;
  /** JSON-encoded unless `raw` is set. */
  body?: unknown;
  raw?: Buffer | string;
  /** X-Consul-Index for reads. */
  index?: number;
}

interface Req {
  method: string;
  path: string;
  params: URLSearchParams;
  body: Buffer;
  match: RegExpExecArray;
  signal: AbortSignal;
}

export interface AclOptions {
  /** A management token: may do everything. */
  readonly managementToken: string;
  /** Optional tokens that may only read. */
  readonly readTokens?: readonly string[];
}

export interface ConsulEmulatorOptions extends Partial<EmulatorOptions> {
  readonly acl?: AclOptions;
  /** HTTPS (Consul's `verify_incoming` when `ca` is given: clients must present a certificate it signed). */
  readonly tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

const MAX_VALUE = 512 * 1024;
const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_WAIT_MS = 5 * 60_000;

const ok = (body: unknown, index?: number): Reply => ({ status: 200, body, index });
const fail = (status: number, text: string): Reply => ({ status, raw: text });

export class ConsulEmulator {
  readonly state: ConsulState;
  readonly agent: LocalAgent;
  private server: Server | null = null;
  /** The last requests served (method, path, query), newest last: for tests that check what a client sent. */
  readonly requests: Array<{ method: string; path: string; query: string }> = [];
  port = 0;
  private readonly routes: Array<[string, RegExp, (r: Req) => Reply | Promise<Reply>, 'read' | 'write' | 'open']>;

  constructor(private readonly opts: ConsulEmulatorOptions = {}) {
    this.state = new ConsulState({
      datacenter: opts.datacenter ?? 'dc1', nodeName: opts.nodeName ?? 'consul-emulator',
      sessionTtlMinMs: opts.sessionTtlMinMs ?? 10_000, ttlMultiplier: opts.ttlMultiplier ?? 2,
    });
    this.agent = new LocalAgent(this.state);
    this.routes = [
      ['GET', /^\/v1\/kv\/(.*)$/s, (r) => this.kvGet(r), 'read'],
      ['PUT', /^\/v1\/kv\/(.*)$/s, (r) => this.kvPut(r), 'write'],
      ['DELETE', /^\/v1\/kv\/(.*)$/s, (r) => this.kvDelete(r), 'write'],
      ['PUT', /^\/v1\/txn$/, (r) => this.txn(r), 'write'],
      ['PUT', /^\/v1\/session\/create$/, (r) => this.sessionCreate(r), 'write'],
      ['PUT', /^\/v1\/session\/destroy\/([^/]+)$/, (r) => ok(this.state.invalidate(r.match[1]!) || true), 'write'],
      ['PUT', /^\/v1\/session\/renew\/([^/]+)$/, (r) => this.sessionRenew(r.match[1]!), 'write'],
      ['GET', /^\/v1\/session\/info\/([^/]+)$/, (r) => this.blocking(r, () => this.sessionList((s) => s.ID === r.match[1])), 'read'],
      ['GET', /^\/v1\/session\/node\/([^/]+)$/, (r) => this.blocking(r, () => this.sessionList((s) => s.Node === r.match[1])), 'read'],
      ['GET', /^\/v1\/session\/list$/, (r) => this.blocking(r, () => this.sessionList(() => true)), 'read'],
      ['GET', /^\/v1\/agent\/self$/, () => ok(agentSelfView(this.state)), 'read'],
      ['GET', /^\/v1\/agent\/members$/, () => ok([memberView(this.state)]), 'read'],
      ['GET', /^\/v1\/agent\/services$/, () => ok(Object.fromEntries(this.agent.services)), 'read'],
      ['GET', /^\/v1\/agent\/checks$/, () => ok(Object.fromEntries([...this.state.checks].filter(([id]) => id !== 'serfHealth').map(([id, c]) => [id, { Node: this.nodeName, ...c }]))), 'read'],
      ['PUT', /^\/v1\/agent\/service\/register$/, (r) => this.agentDo(() => this.agent.registerService(json(r.body))), 'write'],
      ['PUT', /^\/v1\/agent\/service\/deregister\/(.+)$/, (r) => this.agentDo(() => this.agent.deregisterService(decodeURIComponent(r.match[1]!))), 'write'],
      ['PUT', /^\/v1\/agent\/check\/register$/, (r) => this.agentDo(() => this.agent.registerCheck(json(r.body))), 'write'],
      ['PUT', /^\/v1\/agent\/check\/deregister\/(.+)$/, (r) => this.agentDo(() => this.agent.deregisterCheck(decodeURIComponent(r.match[1]!))), 'write'],
      ['PUT', /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/, (r) => this.ttlUpdate(r, ({ pass: 'passing', warn: 'warning', fail: 'critical' } as const)[r.match[1] as 'pass'], r.params.get('note') ?? ''), 'write'],
      ['PUT', /^\/v1\/agent\/check\/update\/(.+)$/, (r) => this.checkUpdate(r), 'write'],
      ['GET', /^\/v1\/status\/leader$/, () => ok('127.0.0.1:8300'), 'open'],
      ['GET', /^\/v1\/status\/peers$/, () => ok(['127.0.0.1:8300']), 'open'],
      ['GET', /^\/v1\/catalog\/datacenters$/, () => ok([this.state.opts.datacenter]), 'read'],
      ['GET', /^\/v1\/catalog\/nodes$/, (r) => this.blocking(r, () => ok([catalogNodeView(this.state)], this.state.catalogIndex)), 'read'],
      ['GET', /^\/v1\/catalog\/services$/, (r) => this.blocking(r, () => ok(catalogServicesView(this.agent), this.state.catalogIndex)), 'read'],
      ['GET', /^\/v1\/catalog\/service\/([^/]+)$/, (r) => this.blocking(r, () => ok(catalogServiceView(this.state, this.agent, r.match[1]!, r.params.get('tag')), this.state.catalogIndex)), 'read'],
      ['GET', /^\/v1\/health\/service\/([^/]+)$/, (r) => this.blocking(r, () => ok(healthServiceView(this.state, this.agent, r.match[1]!, r.params.has('passing')), this.state.catalogIndex)), 'read'],
    ];
  }

  get nodeName(): string { return this.state.opts.nodeName; }
  get url(): string { return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`; }

  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = this.opts.tls;
    this.server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) }, handler)
      : createServer(handler);
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        this.port = (this.server!.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    this.state.close();
    this.agent.close();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    let reply: Reply;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_VALUE + 1024) break;
        chunks.push(c as Buffer);
      }
      const url = new URL(req.url ?? '/', 'http://x');
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search });
      if (this.requests.length > 200) this.requests.shift();
      reply = await this.dispatch({ method: req.method ?? 'GET', path: url.pathname, params: url.searchParams, body: Buffer.concat(chunks), signal: ac.signal } as Omit<Req, 'match'> as Req, req);
    } catch (e) {
      reply = fail(500, e instanceof Error ? e.message : String(e));
    }
    if (res.destroyed) return;
    const headers: Record<string, string> = { 'X-Consul-Effective-Consistency': 'leader' };
    if (reply.index !== undefined) Object.assign(headers, { 'X-Consul-Index': String(reply.index), 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' });
    if (reply.raw !== undefined) {
      res.writeHead(reply.status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(reply.raw);
    } else {
      res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json' });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    }
  }

  private async dispatch(r: Req, raw: IncomingMessage): Promise<Reply> {
    let methodMismatch = false;
    for (const [method, re, fn, access] of this.routes) {
      const m = re.exec(r.path);
      if (!m) continue;
      if (method !== r.method) {
        methodMismatch = true;
        continue;
      }
      const denied = this.aclCheck(raw, r.params, access);
      if (denied) return denied;
      const dc = r.params.get('dc');
      if (dc && dc !== this.state.opts.datacenter) return fail(500, 'No path to datacenter');
      if (r.params.has('stale') && r.params.has('consistent')) return fail(400, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
      return fn({ ...r, match: m });
    }
    return methodMismatch ? fail(405, `method ${r.method} not allowed`) : fail(404, '');
  }

  /** X-Consul-Token, `Authorization: Bearer`, or ?token=. Without ACLs configured everything is allowed. */
  private aclCheck(req: IncomingMessage, params: URLSearchParams, access: 'read' | 'write' | 'open'): Reply | null {
    const acl = this.opts.acl;
    if (!acl || access === 'open') return null;
    const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const token = String(req.headers['x-consul-token'] ?? '') || bearer || params.get('token') || '';
    if (token === acl.managementToken) return null;
    if (acl.readTokens?.includes(token)) return access === 'read' ? null : fail(403, 'Permission denied');
    return token ? fail(403, 'ACL not found') : fail(403, 'Permission denied');
  }

  /**
   * Blocking query: with ?index=N, wait (up to ?wait, default 5 min, max 10 min, plus up to wait/16
   * of jitter, as Consul does) until the result's index exceeds N; then answer the current result.
   */
  private async blocking(r: Req, query: () => Reply): Promise<Reply> {
    const rawIndex = r.params.get('index');
    if (rawIndex === null) return query();
    const min = Number(rawIndex);
    if (!/^\d+$/.test(rawIndex)) return fail(400, 'Invalid index');
    const waitText = r.params.get('wait');
    let wait = waitText ? parseDuration(waitText) : DEFAULT_WAIT_MS;
    if (wait === null) return fail(400, `Invalid wait time`);
    wait = Math.min(wait || DEFAULT_WAIT_MS, MAX_WAIT_MS);
    wait += Math.random() * (wait / 16);
    let reply = query();
    if (min === 0 || reply.status !== 200 && reply.status !== 404 || (reply.index ?? 0) > min) return reply;
    const deadline = performance.now() + wait;
    const changes = this.state.changes;
    while (performance.now() < deadline && !r.signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          changes.off('change', done);
          r.signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, Math.max(0, deadline - performance.now()));
        changes.on('change', done);
        r.signal.addEventListener('abort', done);
      });
      reply = query();
      if ((reply.index ?? 0) > min) return reply;
    }
    return reply;
  }

  // ---- KV ----

  private kvKey(r: Req): string {
    return decodeURIComponent(r.match[1] ?? '');
  }

  private kvGet(r: Req): Promise<Reply> {
    const key = this.kvKey(r);
    if (r.params.has('keys')) {
      const sep = r.params.get('separator') ?? '';
      return this.blocking(r, () => {
        const out = new Set<string>();
        for (const e of this.state.list(key)) {
          const rest = e.Key.slice(key.length);
          const cut = sep ? rest.indexOf(sep) : -1;
          out.add(cut >= 0 ? key + rest.slice(0, cut + sep.length) : e.Key);
        }
        const index = this.state.listIndex(key);
        return out.size ? ok([...out], index) : { status: 404, index };
      });
    }
    if (r.params.has('recurse')) {
      return this.blocking(r, () => {
        const entries = this.state.list(key);
        const index = this.state.listIndex(key);
        return entries.length ? ok(entries.map(view), index) : { status: 404, index };
      });
    }
    return this.blocking(r, () => {
      const e = this.state.get(key);
      const index = this.state.getIndex(key);
      if (!e) return { status: 404, index };
      if (r.params.has('raw')) return { status: 200, raw: e.Value ?? Buffer.alloc(0), index };
      return ok([view(e)], index);
    });
  }

  private kvPut(r: Req): Reply {
    const key = this.kvKey(r);
    if (!key) return fail(400, 'Missing key name');
    if (r.body.length > MAX_VALUE) return fail(413, `Request body(${r.body.length} bytes) too large, max size: ${MAX_VALUE} bytes.`);
    const value = r.body.length ? r.body : null;
    const flagsText = r.params.get('flags');
    if (flagsText !== null && !/^\d+$/.test(flagsText)) return fail(400, 'Invalid flags');
    const flags = flagsText === null ? 0 : Number(flagsText);
    const num = (name: string) => {
      const v = r.params.get(name)!;
      if (!/^\d+$/.test(v)) throw Object.assign(new Error(`Invalid ${name === 'cas' ? 'CAS' : name} index`), { status: 400 });
      return Number(v);
    };
    try {
      // Consul's precedence: release over acquire over cas over a plain set.
      if (r.params.has('release')) return ok(this.state.unlock(key, value, flags, r.params.get('release')!));
      if (r.params.has('acquire')) return ok(this.state.lock(key, value, flags, r.params.get('acquire')!));
      if (r.params.has('cas')) return ok(this.state.cas(key, value, flags, num('cas')));
      return ok(this.state.set(key, value, flags));
    } catch (e) {
      const status = (e as { status?: number }).status ?? 500;
      return fail(status, (e as Error).message);
    }
  }

  private kvDelete(r: Req): Reply {
    const key = this.kvKey(r);
    if (r.params.has('cas')) {
      const v = r.params.get('cas')!;
      if (!/^\d+$/.test(v)) return fail(400, 'Invalid CAS index');
      return ok(this.state.deleteCas(key, Number(v)));
    }
    if (r.params.has('recurse')) return ok(this.state.deleteTree(key));
    if (!key) return fail(400, 'Missing key name');
    return ok(this.state.delete(key));
  }

  private txn(r: Req): Reply {
    let ops: Array<{ KV?: Record<string, unknown> }>;
    try {
      ops = JSON.parse(r.body.toString('utf8') || '[]') as Array<{ KV?: Record<string, unknown> }>;
      if (!Array.isArray(ops)) throw new Error('expected a list of operations');
    } catch (e) {
      return fail(400, `Failed to parse body: ${(e as Error).message}`);
    }
    if (ops.length > 128) return fail(413, `Transaction contains too many operations (${ops.length} > 128)`);
    const kvOps = [];
    for (const op of ops) {
      const kv = op.KV;
      if (!kv) return fail(400, 'this emulator supports only KV operations in /v1/txn');
      const value = field<string | null>(kv, 'Value');
      kvOps.push({ Verb: String(field(kv, 'Verb') ?? ''), Key: String(field(kv, 'Key') ?? ''), Value: value ? Buffer.from(value, 'base64') : null,
        Flags: Number(field(kv, 'Flags') ?? 0), Index: Number(field(kv, 'Index') ?? 0), Session: String(field(kv, 'Session') ?? '') });
    }
    const out = this.state.txn(kvOps);
    if ('errors' in out) return { status: 409, body: { Results: null, Errors: out.errors } };
    return ok({ Results: out.results.map((e) => ({ KV: view(e) })), Errors: null }, this.state.index);
  }

  // ---- sessions ----

  private sessionCreate(r: Req): Reply {
    let body: Record<string, unknown> = {};
    if (r.body.length) {
      try {
        body = json(r.body);
      } catch (e) {
        return fail(400, `Request decode failed: ${(e as Error).message}`);
      }
    }
    const ttl = String(field(body, 'TTL') ?? '');
    const ttlMs = ttl ? parseDuration(ttl) : 0;
    if (ttlMs === null) return fail(500, `Invalid Session TTL '${ttl}': time: invalid duration "${ttl}"`);
    const min = this.state.opts.sessionTtlMinMs;
    if (ttlMs !== 0 && (ttlMs < min || ttlMs > 86_400_000)) {
      return fail(500, `Invalid Session TTL '${Math.round(ttlMs * 1e6)}', must be between [${this.state.ttlMinText()}=24h0m0s]`);
    }
    const behavior = String(field(body, 'Behavior') || 'release');
    if (behavior !== 'release' && behavior !== 'delete') return fail(500, `Invalid Behavior setting '${behavior}'`);
    const lockDelayNs = lockDelay(field(body, 'LockDelay'));
    if (lockDelayNs === null) return fail(400, 'Request decode failed: invalid LockDelay');
    const nodeChecks = field<string[] | null>(body, 'NodeChecks') ?? field<string[] | null>(body, 'Checks');
    try {
      const s = this.state.createSession({
        name: String(field(body, 'Name') ?? ''), node: String(field(body, 'Node') || this.nodeName), lockDelayNs, behavior, ttl, ttlMs,
        checks: nodeChecks === undefined || nodeChecks === null ? ['serfHealth'] : nodeChecks,
      });
      return ok({ ID: s.ID });
    } catch (e) {
      return fail(500, (e as Error).message);
    }
  }

  private sessionRenew(id: string): Reply {
    const s = this.state.renewSession(id);
    return s ? ok([this.state.sessionView(s)], this.state.index) : fail(404, `Session id '${id}' not found`);
  }

  private sessionList(pred: (s: SessionEntry) => boolean): Reply {
    return ok([...this.state.sessions.values()].filter(pred).map((s) => this.state.sessionView(s)), this.state.sessionIndex);
  }

  // ---- agent and catalog ----

  private agentDo(fn: () => unknown): Reply {
    try {
      const r = fn();
      return r === false ? fail(404, 'Unknown service or check ID') : { status: 200 };
    } catch (e) {
      return fail(400, (e as Error).message);
    }
  }

  private ttlUpdate(r: Req, status: 'passing' | 'warning' | 'critical', output: string): Reply {
    const id = decodeURIComponent(r.match[2]!);
    return this.agent.updateTtlCheck(id, status, output) ? { status: 200 } : fail(404, `Unknown check ID "${id}"`);
  }

  private checkUpdate(r: Req): Reply {
    const body = json(r.body);
    const status = String(field(body, 'Status') ?? '');
    if (!['passing', 'warning', 'critical'].includes(status)) return fail(400, `Invalid check status: "${status}"`);
    return this.ttlUpdate({ ...r, match: Object.assign([r.match[0], '', r.match[1]], { index: 0, input: '' }) as unknown as RegExpExecArray }, status as 'passing', String(field(body, 'Output') ?? ''));
  }
}

function json(body: Buffer): Record<string, unknown> {
  const v = body.length ? (JSON.parse(body.toString('utf8')) as unknown) : {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('Request decode failed: expected a JSON object');
  return v as Record<string, unknown>;
}

/** Consul's FixupLockDelay: a duration string, or a number (< 1000: seconds, else nanoseconds). Default 15 s. */
function lockDelay(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return 15e9;
  if (typeof v === 'number') return v < 1000 ? Math.round(v * 1e9) : v;
  const ms = parseDuration(String(v));
  return ms === null ? null : Math.min(Math.round(ms * 1e6), 60e9);
}

