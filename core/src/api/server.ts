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
import { HttpError, errorReply, textReply } from './http-util.js';
import { GET_ROUTES, WRITE_ROUTES, healthStatusOnly, healthWithBody } from './routes.js';
import type { ApiContext, ApiServerOptions, Reply, ResolvedOptions, RestApiConfig } from './types.js';

export interface ApiServer {
  /** Bind `restapi.listen`; rejects when the address is taken or the TLS files are unreadable. */
  start(): Promise<void>;
  /** Stop accepting and close open connections. */
  stop(): Promise<void>;
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

function resolveOptions(o: ApiServerOptions): ResolvedOptions {
  return {
    clock: o.clock ?? systemClock,
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
    failoverPollIntervalMs: o.failoverPollIntervalMs ?? 500,
    failoverPollTimeoutMs: o.failoverPollTimeoutMs ?? null,
    statusTimeoutMs: o.statusTimeoutMs ?? 5000,
  };
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

export function createApiServer(backend: ApiBackend, restapi: RestApiConfig, logger: Logger, options: ApiServerOptions = {}): ApiServer {
  const opts = resolveOptions(options);
  const https = isHttpsConfig(restapi);
  const access = new AccessControl(restapi, backend, logger, https);
  const headers = extraHeaders(restapi);
  let server: Server | null = null;

  async function route(req: IncomingMessage): Promise<Reply> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return errorReply(400, 'malformed request path');
    }
    const ctx: ApiContext = { backend, config: restapi, logger, options: opts, req, path: url.pathname, query: parseQuery(url.searchParams) };
    const segment = url.pathname.replace(/^\/+/, '').split('/')[0] ?? '';
    const method = req.method ?? 'GET';
    // HAProxy checks with HEAD/OPTIONS on any path and reads only the status line.
    if (method === 'HEAD' || method === 'OPTIONS') return healthStatusOnly(ctx);
    if (method === 'GET') return (GET_ROUTES[segment] ?? healthWithBody)(ctx);
    const write = WRITE_ROUTES[`${method} ${segment}`];
    if (!write) return errorReply(501, `Unsupported method ('${method}')`);
    const denied = await access.check(req, write.checkMembers);
    return denied ?? write.handler(ctx);
  }

  function send(res: ServerResponse, reply: Reply): void {
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
    res.writeHead(reply.status, { ...h, ...headers });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = opts.clock.monotonic();
    let reply: Reply;
    try {
      reply = await route(req);
    } catch (e) {
      if (e instanceof HttpError) reply = errorReply(e.status, e.message);
      else if (isDcsError(e)) {
        logger.warn({ err: e }, `REST API: ${req.method} ${req.url}: DCS is not accessible`);
        reply = textReply(503, `DCS is not accessible: ${e.message}`);
      } else {
        logger.error({ err: e }, `REST API: exception while processing ${req.method} ${req.url}`);
        reply = textReply(500, `Internal error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    try {
      send(res, reply);
    } catch (e) {
      logger.warn({ err: e }, 'REST API: failed to send a response');
      res.destroy();
    }
    logger.debug(`API: ${req.socket.remoteAddress} - "${req.method} ${req.url}" ${reply.status} latency: ${(opts.clock.monotonic() - started).toFixed(3)} ms`);
  }

  async function build(): Promise<Server> {
    const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
    if (!https) return createHttpServer(listener);
    const verify = restapi.verify_client?.toLowerCase() ?? 'none';
    if (!['none', 'optional', 'required'].includes(verify)) logger.error(`Bad value in the "restapi.verify_client": ${restapi.verify_client}`);
    return createHttpsServer({
      cert: await readFile(restapi.certfile!),
      key: restapi.keyfile ? await readFile(restapi.keyfile) : undefined,
      passphrase: restapi.keyfile_password,
      ca: restapi.cafile ? await readFile(restapi.cafile) : undefined,
      ciphers: restapi.ciphers,
      requestCert: verify === 'optional' || verify === 'required',
      rejectUnauthorized: verify === 'required',
    }, listener);
  }

  return {
    get address() {
      const a = server?.address();
      return a && typeof a === 'object' ? a : null;
    },
    isHttps: https,
    async start() {
      if (server) return;
      const { host, port } = parseListen(restapi.listen);
      await access.init();
      const srv = await build();
      srv.requestTimeout = 30_000;
      srv.headersTimeout = 10_000;
      srv.on('clientError', (err, socket) => {
        logger.debug(`REST API: client error: ${err.message}`);
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      srv.on('tlsClientError', (err) => logger.debug(`REST API: TLS client error: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host, port, backlog: restapi.request_queue_size ?? 511 }, () => {
          srv.off('error', reject);
          srv.on('error', (e) => logger.error({ err: e }, 'REST API server error'));
          resolve();
        });
      });
      server = srv;
      logger.info(`REST API listening on ${restapi.listen} (${https ? 'https' : 'http'})`);
    },
    async stop() {
      const srv = server;
      if (!srv) return;
      server = null;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
    },
  };
}
