/**
 * One HTTP(S) request through node:http, for the agent's calls to other members' REST APIs.
 *
 * Not `fetch`: Node's fetch is undici, whose HTTP parser is WebAssembly. In the agent, loading it
 * made V8 compile that module in the background, a 30 MB peak of malloc'd compiler memory
 * (heaptrack: the agent's malloc peak went from 34 MB to 11 MB without it), much of which glibc
 * kept as heap; undici's own code was about 2 MB more resident (/proc/PID/smaps).
 */
import http from 'node:http';
import https from 'node:https';

/** The part of a response the agent reads (fetch's `Response` has it too, for tests that use fetch). */
export interface HttpAnswer {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null; forEach(each: (value: string, name: string) => void): void };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface HttpRequestInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
}

export interface HttpRequestOptions {
  /** TLS settings for https (node:https.Agent); plain http uses the global agent. */
  readonly tlsAgent?: https.Agent;
  /** A longer answer fails the request (a member's REST answers are a few kB). */
  readonly maxBytes?: number;
}

export const DEFAULT_MAX_ANSWER_BYTES = 1 << 20;

export class HttpAnswerTooLarge extends Error {}

function answer(status: number, headers: http.IncomingHttpHeaders, body: string): HttpAnswer {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get(name: string): string | null {
        const v = headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
      forEach(each: (value: string, name: string) => void): void {
        for (const [k, v] of Object.entries(headers)) if (v !== undefined) each(Array.isArray(v) ? v.join(', ') : v, k);
      },
    },
    text: () => Promise.resolve(body),
    json: () => Promise.resolve().then(() => JSON.parse(body) as unknown),
  };
}

/** Resolves once the whole body is in; rejects on a network error, an abort or an oversized answer. */
export function httpRequest(url: string | URL, init: HttpRequestInit = {}, o: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const tls = target.protocol === 'https:';
  if (!tls && target.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const max = o.maxBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
  return new Promise<HttpAnswer>((resolve, reject) => {
    const options = { method: init.method ?? 'GET', headers, signal: init.signal, ...(tls && o.tlsAgent ? { agent: o.tlsAgent } : {}) };
    const req = (tls ? https : http).request(target, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          done = true;
          req.destroy();
          reject(new HttpAnswerTooLarge(`the answer from ${target.host} is over ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e) => { done = true; reject(e); });
      res.on('end', () => {
        done = true;
        resolve(answer(res.statusCode ?? 500, res.headers, Buffer.concat(chunks).toString('utf8')));
      });
      // Closed before its end (an abort, a reset): never leave the caller waiting.
      res.on('close', () => { if (!done) reject(new Error(`the connection to ${target.host} closed mid-answer`)); });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
