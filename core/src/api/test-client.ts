/** Test support (not used at runtime): a tiny HTTP(S) client that also speaks HEAD/OPTIONS and raw bodies. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface ClientRequest {
  method?: string;
  path: string;
  /** A value to send as JSON, or a raw string/Buffer body. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Omit Content-Length (sent chunked instead). */
  chunked?: boolean;
  tls?: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
}

export function call(port: number, r: ClientRequest): Promise<ClientResponse> {
  const raw = r.body === undefined ? undefined : typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : JSON.stringify(r.body);
  const headers: Record<string, string> = { ...r.headers };
  if (raw !== undefined && !r.chunked) headers['Content-Length'] = String(Buffer.byteLength(raw));
  const opts = { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, agent: false as const, ...r.tls };
  return new Promise((resolve, reject) => {
    const req = (r.tls ? httpsRequest : httpRequest)(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (raw !== undefined) req.write(raw);
    req.end();
  });
}

export const basicAuth = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

import { silentLogger } from '../log.js';
import type { ApiBackend } from './backend.js';
import { createApiServer, type ApiServer } from './server.js';
import type { ApiServerOptions, RestApiConfig } from './types.js';

/** Start a server on an ephemeral loopback port; returns it with its port. */
export async function startApi(backend: ApiBackend, restapi: Partial<RestApiConfig> = {}, options: ApiServerOptions = {}): Promise<{ server: ApiServer; port: number }> {
  const server = createApiServer(backend, { listen: '127.0.0.1:0', ...restapi }, silentLogger,
    { failoverPollIntervalMs: 50, failoverPollTimeoutMs: 3000, ...options });
  await server.start();
  return { server, port: server.address!.port };
}
