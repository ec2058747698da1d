/**
 * The REST API server: node:http, or node:https with `certfile`/`keyfile` (client certificates per
 * `verify_client`). Every request is handled inside one try/catch: nothing a client sends can
 * crash the agent; unexpected errors become a 500 with a reason and are logged.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isDcsError } from '../errors.js';
import type { Logger } from '../log.js';
import { systemClock } from '../util/clock.js';
import { AccessControl } from './access.js';
import type { ApiBackend } from './backend.js';
import { ClientDisconnected, HttpError, errorReply, lingerClose, lingerOnClose, textReply } from './http-util.js';
import { GET_ROUTES, WRITE_ROUTES, healthStatusOnly, healthWithBody } from './routes.js';
import type { ApiContext, ApiServerOptions, Reply, ResolvedOptions, RestApiConfig } from './types.js';

export interface ApiServer {
  /** Bind `restapi.listen`; rejects when the address is taken or the TLS files are unreadable. */
  start(): Promise<void>;
  /** Stop accepting and close open connections. */
  stop(): Promise<void>;
  /**
   * Apply a changed `restapi` section (on SIGHUP). Auth, allowlist and headers apply to the next
   * request; a new listen address or TLS setting re-binds the socket. Rejects if the new one fails.
   */
  reload(restapi: RestApiConfig): Promise<void>;
  /** The bound address once started (port 0 resolves to the real port). */
  readonly address: AddressInfo | null;
  readonly isHttps: boolean;
}

export function isHttpsConfig(restapi: RestApiConfig): boolean {
  return !!restapi.certfile;
}

/** `<proto>://<connect_address or listen>/patroni`, the `api_url` members publish. */
export function apiUrl(restapi: RestApiConfig): string {
  return `${isHttpsConfig(restapi) ? 'https' : 'http'}://${restapi.connect_address || restapi.listen || ''}/patroni`;
}

/** Split `host:port` / `[v6]:port`; an empty or `*` host means every interface. */
export function parseListen(listen: string | undefined): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|(.*)):(\d+)$/.exec((listen ?? '').trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new Error(`Invalid "restapi" config: expected <HOST>:<PORT> for "listen", but got "${listen ?? ''}"`);
  }
  const host = m[1] ?? m[2];
  return { host: host === '' || host === '*' ? undefined : host, port };
}

/** The request path for a log line: bounded and with control characters escaped (no log injection). */
function safeUrl(url: string | undefined): string {
  const u = (url ?? '').slice(0, 200).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return (url ?? '').length > 200 ? `${u}…` : u;
}

function resolveOptions(o: ApiServerOptions): ResolvedOptions {
  return {
    clock: o.clock ?? systemClock,
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
    failoverPollIntervalMs: o.failoverPollIntervalMs ?? 500,
    failoverPollTimeoutMs: o.failoverPollTimeoutMs ?? null,
    statusTimeoutMs: o.statusTimeoutMs ?? 5000,
  };
}

/** restapi.server_tokens (Patroni 4.1): `Minimal` sends `Server: Patroni/<version>`, `ProductOnly` `Server: Patroni`; `Original` leaves it alone. */
function serverToken(restapi: RestApiConfig, version: string, logger: Logger): Record<string, string> {
  const t = typeof restapi.server_tokens === 'string' ? restapi.server_tokens.toLowerCase() : 'original';
  if (t === 'minimal') return { Server: `Patroni/${version}` };
  if (t === 'productonly') return { Server: 'Patroni' };
  if (t !== 'original') logger.warn(`restapi.server_tokens is set to "${String(restapi.server_tokens)}". The Server header is not modified. Valid values are: "Minimal", "ProductOnly".`);
  return {};
}

function extraHeaders(restapi: RestApiConfig): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (h: Readonly<Record<string, unknown>> | undefined) => {
    for (const [k, v] of Object.entries(h ?? {})) if (v !== null && v !== undefined) out[k] = String(v);
  };
  add(restapi.http_extra_headers);
  if (isHttpsConfig(restapi)) add(restapi.https_extra_headers);
  return out;
}

/** First non-blank value per key, as Python's parse_qs (blank values dropped). */
function parseQuery(search: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of search) if (v !== '' && !out.has(k)) out.set(k, v);
  return out;
}

/** The parts of the configuration that need a new listening socket when they change. */
function socketSettings(r: RestApiConfig): string {
  return JSON.stringify([r.listen, r.certfile, r.keyfile, r.keyfile_password, r.cafile, r.ciphers, r.verify_client?.toLowerCase(), r.request_queue_size]);
}

interface ActiveConfig {
  readonly restapi: RestApiConfig;
  readonly https: boolean;
  readonly access: AccessControl;
  readonly headers: Record<string, string>;
}

export function createApiServer(backend: ApiBackend, restapi: RestApiConfig, logger: Logger, options: ApiServerOptions = {}): ApiServer {
  const opts = resolveOptions(options);
  const activate = (r: RestApiConfig): ActiveConfig => {
    const https = isHttpsConfig(r);
    return { restapi: r, https, access: new AccessControl(r, backend, logger, https), headers: { ...serverToken(r, backend.version, logger), ...extraHeaders(r) } };
  };
  let active = activate(restapi);
  let server: Server | null = null;
  let started = false;
  // Every socket, including CONNECT/Upgrade ones the HTTP layer no longer tracks: close() ends them all.
  const sockets = new Map<Server, Set<import('node:net').Socket>>();

  async function route(req: IncomingMessage, cfg: ActiveConfig): Promise<Reply> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return errorReply(400, 'malformed request path');
    }
    const ctx: ApiContext = { backend, config: cfg.restapi, logger, options: opts, req, path: url.pathname, query: parseQuery(url.searchParams) };
    const segment = url.pathname.replace(/^\/+/, '').split('/')[0] ?? '';
    const method = req.method ?? 'GET';
    // HAProxy checks with HEAD/OPTIONS on any path and reads only the status line.
    if (method === 'HEAD' || method === 'OPTIONS') return healthStatusOnly(ctx);
    if (method === 'GET') return (GET_ROUTES[segment] ?? healthWithBody)(ctx);
    const write = WRITE_ROUTES[`${method} ${segment}`];
    if (!write) return errorReply(501, `Unsupported method ('${method}')`);
    const denied = await cfg.access.check(req, write.checkMembers);
    if (denied && write.challenge === false && denied.headers?.['WWW-Authenticate']) return { ...denied, headers: {} };
    return denied ?? write.handler(ctx);
  }

  function send(res: ServerResponse, reply: Reply, extra: Record<string, string>): void {
    if (res.headersSent || res.destroyed) return;
    const body = reply.json !== undefined ? JSON.stringify(reply.json) : reply.text;
    const h: Record<string, string> = { ...reply.headers };
    if (body !== undefined) {
      h['Content-Type'] = reply.contentType ?? (reply.json !== undefined ? 'application/json' : 'text/html');
      h['Content-Length'] = String(Buffer.byteLength(body));
    } else {
      h['Content-Length'] = '0';
    }
    // Don't keep reading a body we refused (too large, unread after an error).
    if (reply.status === 413 || reply.status === 411) h.Connection = 'close';
    res.writeHead(reply.status, { ...h, ...extra });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = opts.clock.monotonic();
    const remote = req.socket.remoteAddress ?? '?'; // gone once the client hangs up
    const cfg = active;
    let reply: Reply;
    try {
      reply = await route(req, cfg);
    } catch (e) {
      if (e instanceof ClientDisconnected) {
        // One line, no stack: a client hanging up mid-body is routine, not an agent problem.
        logger.info(`REST API: ${remote} disconnected during "${req.method} ${safeUrl(req.url)}"`);
        res.destroy();
        return;
      }
      if (e instanceof HttpError) reply = errorReply(e.status, e.message);
      else if (isDcsError(e)) {
        logger.warn(`REST API: ${req.method} ${safeUrl(req.url)}: DCS is not accessible: ${e instanceof Error ? e.message : String(e)}`);
        reply = textReply(503, `DCS is not accessible: ${e.message}`);
      } else {
        logger.error({ err: e }, `REST API: exception while processing ${req.method} ${safeUrl(req.url)}`);
        reply = textReply(500, `Internal error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // Answered before its body was read (refusals mostly): closing now would reset the connection.
    if (!req.complete) lingerOnClose(req.socket);
    try {
      send(res, reply, cfg.headers);
    } catch (e) {
      logger.warn({ err: e }, 'REST API: failed to send a response');
      res.destroy();
    }
    logger.debug(`API: ${remote} - "${req.method} ${safeUrl(req.url)}" ${reply.status} latency: ${(opts.clock.monotonic() - started).toFixed(3)} ms`);
  }

  async function build(cfg: ActiveConfig): Promise<Server> {
    // Whatever handle() misses is logged here: a request must never become an unhandled rejection.
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      handle(req, res).catch((e: unknown) => {
        logger.error(`REST API: unhandled error for ${req.method} ${safeUrl(req.url)}: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) res.destroy();
      });
    };
    if (!cfg.https) return createHttpServer(listener);
    const r = cfg.restapi;
    const verify = r.verify_client?.toLowerCase() ?? 'none';
    if (!['none', 'optional', 'required'].includes(verify)) logger.error(`Bad value in the "restapi.verify_client": ${r.verify_client}`);
    return createHttpsServer({
      cert: await readFile(r.certfile!),
      key: r.keyfile ? await readFile(r.keyfile) : undefined,
      passphrase: r.keyfile_password,
      ca: r.cafile ? await readFile(r.cafile) : undefined,
      ciphers: r.ciphers,
      requestCert: verify === 'optional' || verify === 'required',
      rejectUnauthorized: verify === 'required',
    }, listener);
  }

  async function listen(cfg: ActiveConfig): Promise<Server> {
    const { host, port } = parseListen(cfg.restapi.listen);
    await cfg.access.init();
    const srv = await build(cfg);
    const open = new Set<import('node:net').Socket>();
    sockets.set(srv, open);
    srv.on('connection', (sock: import('node:net').Socket) => {
      open.add(sock);
      sock.once('close', () => open.delete(sock));
    });
    srv.requestTimeout = 30_000;
    srv.headersTimeout = 10_000;
    // The parser reports every later piece of a refused request again: answer once, then linger.
    const refused = new WeakSet<import('node:stream').Duplex>();
    srv.on('clientError', (err, socket) => {
      if (refused.has(socket)) return;
      refused.add(socket);
      logger.debug(`REST API: client error: ${err.message}`);
      if (!socket.writable) { socket.destroy(); return; }
      socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      lingerClose(socket);
    });
    srv.on('tlsClientError', (err) => logger.debug(`REST API: TLS client error: ${err.message}`));
    // CONNECT (and Upgrade requests) bypass the request handler: answer them as any unknown method.
    const refuse = (req: IncomingMessage, socket: import('node:stream').Duplex) => {
      const body = `Unsupported method ('${String(req.method).slice(0, 32)}')`;
      socket.write(`HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      lingerClose(socket);
    };
    srv.on('connect', refuse);
    srv.on('upgrade', refuse);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host, port, backlog: cfg.restapi.request_queue_size }, () => {
        srv.off('error', reject);
        srv.on('error', (e) => logger.error({ err: e }, 'REST API server error'));
        resolve();
      });
    });
    logger.info(`REST API listening on ${cfg.restapi.listen} (${cfg.https ? 'https' : 'http'})`);
    return srv;
  }

  /** Stop listening and end every connection; never waits on a client (a reload must not hang). */
  async function close(srv: Server): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      srv.close(() => { clearTimeout(timer); resolve(); });
      srv.closeAllConnections();
      for (const sock of sockets.get(srv) ?? []) sock.destroy();
    });
    sockets.delete(srv);
  }

  return {
    get address() {
      const a = server?.address();
      return a && typeof a === 'object' ? a : null;
    },
    get isHttps() { return active.https; },
    async start() {
      if (!server) server = await listen(active);
      started = true;
    },
    async stop() {
      const srv = server;
      server = null;
      started = false;
      if (srv) await close(srv);
    },
    async reload(next: RestApiConfig) {
      const cfg = activate(next);
      if (!started || (server && socketSettings(next) === socketSettings(active.restapi))) {
        await cfg.access.init();
        active = cfg;
        return;
      }
      // Like Patroni: a new address or new TLS settings mean a new socket. On the same address
      // the old socket must go first; if the new one then fails, the old settings come back.
      // (server is null here only when an earlier re-bind failed: then any new one is welcome.)
      const old = server;
      const sameAddress = next.listen === active.restapi.listen;
      if (old && sameAddress) {
        server = null;
        await close(old);
      }
      try {
        server = await listen(cfg);
      } catch (e) {
        if (!server) server = await listen(active).catch((e2: unknown) => { logger.error(`REST API: cannot listen again on ${active.restapi.listen}: ${String(e2)}`); return null; });
        throw e;
      }
      active = cfg;
      if (old && !sameAddress) await close(old);
    },
  };
}
