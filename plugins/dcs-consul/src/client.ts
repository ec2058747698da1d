/**
 * The Consul client and the one way pgha calls it: every call has a deadline within retry_timeout,
 * transient failures (connection refused/reset, timeouts, 5xx other than Consul's answers about
 * sessions) are retried until then, and every call ends as a result or a DcsError.
 */
import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DcsError, ErrorCodes } from '@pgha/core';
import Consul from 'consul';
import type { ConsulEndpoint, TlsSettings } from './config.js';

export interface ClientSettings {
  readonly endpoint: ConsulEndpoint;
  readonly token?: string;
  readonly dc?: string;
  readonly consistency?: 'default' | 'consistent' | 'stale';
  readonly tls?: TlsSettings;
}

/** Per-call options the consul package passes on: a timeout and a cancel context. */
export interface CallOptions {
  timeout: number;
  ctx: EventEmitter & { includeResponse?: boolean };
}

export interface HttpError extends Error {
  statusCode?: number;
  response?: { statusCode?: number };
  code?: string;
}

export function statusOf(e: unknown): number | undefined {
  const err = e as HttpError;
  return err?.response?.statusCode ?? err?.statusCode;
}

/** Consul's 500 for an acquire/release with a session it does not know. */
export function isInvalidSession(e: unknown): boolean {
  return statusOf(e) === 500 && /invalid session/i.test((e as Error).message);
}

export function isInvalidSessionTtl(e: unknown): boolean {
  return statusOf(e) === 500 && /Invalid Session TTL/i.test((e as Error).message);
}

/** Certificate and handshake failures: retrying cannot help, say so at once. */
export function isTlsError(e: unknown): boolean {
  const code = String((e as HttpError)?.code ?? '');
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|ERR_SSL|ERR_TLS/.test(code);
}

function isTransient(e: unknown): boolean {
  if (isTlsError(e)) return false;
  const status = statusOf(e);
  // Consul's 500s about our own request (session, TTL, checks, node) stay the same however often we ask.
  const refused = /invalid session|Invalid Session TTL|critical state|Missing check|Missing node registration/i.test((e as Error).message);
  if (status !== undefined) return (status >= 500 && !refused) || status === 429;
  return true; // no HTTP answer at all: connection refused/reset, timeout, abort by our deadline
}

export function toDcsError(what: string, e: unknown): DcsError {
  if (e instanceof DcsError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const status = statusOf(e);
  const auth = status === 403 || status === 401 || isTlsError(e);
  // A lean cause (message, HTTP status, error code): the client's error holds the whole response.
  const cause = Object.assign(new Error(msg), { statusCode: status, code: (e as HttpError)?.code });
  return new DcsError(`consul ${what}: ${msg}`, { cause, code: auth ? ErrorCodes.DCS_AUTH : ErrorCodes.DCS_UNAVAILABLE });
}

export function createConsulClient(s: ClientSettings): { client: Consul; agent: HttpAgent } {
  const agent = s.endpoint.secure
    ? new HttpsAgent({ keepAlive: true, ca: s.tls?.ca, cert: s.tls?.cert, key: s.tls?.key, rejectUnauthorized: s.tls?.rejectUnauthorized ?? true })
    : new HttpAgent({ keepAlive: true });
  const defaults: Record<string, unknown> = {};
  if (s.token) defaults.token = s.token;
  if (s.dc) defaults.dc = s.dc;
  const client = new Consul({ host: s.endpoint.host, port: s.endpoint.port, secure: s.endpoint.secure, agent, defaults } as ConstructorParameters<typeof Consul>[0]);
  return { client, agent };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs calls with a deadline; `retryTimeout` follows the live configuration. */
export class DeadlineCaller {
  private retryMs: number;

  constructor(retryTimeout: number) {
    this.retryMs = retryTimeout * 1000;
  }

  get budgetMs(): number { return this.retryMs; }

  setRetryTimeout(seconds: number): void { this.retryMs = seconds * 1000; }

  /**
   * Run `fn` until it succeeds, fails for good, or the budget is spent. `fn` must hand the given
   * options to the consul call: its timeout is the time left, its ctx cancels it at the deadline.
   */
  async run<T>(what: string, fn: (o: CallOptions) => Promise<T>, budgetMs = this.retryMs): Promise<T> {
    const start = performance.now();
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const remaining = budgetMs - (performance.now() - start);
      // Too little time left for a real attempt: report what the attempts so far said.
      if (remaining <= (attempt === 0 ? 0 : 20)) {
        throw new DcsError(`consul ${what}: no answer within ${Math.round(budgetMs) / 1000}s` +
          (lastError instanceof Error ? ` (${lastError.message})` : ''), { cause: lastError && toDcsError(what, lastError).cause, code: ErrorCodes.DCS_TIMEOUT });
      }
      const ctx = new EventEmitter();
      const timer = setTimeout(() => ctx.emit('cancel'), remaining + 50);
      try {
        return await fn({ timeout: Math.max(1, Math.floor(remaining)), ctx });
      } catch (e) {
        if (!isTransient(e)) throw toDcsError(what, e);
        // An answer from Consul says more than a later timeout of a short last attempt.
        if (!(statusOf(lastError) !== undefined && statusOf(e) === undefined)) lastError = e;
      } finally {
        clearTimeout(timer);
      }
      const left = budgetMs - (performance.now() - start);
      await sleep(Math.max(0, Math.min(50 * 2 ** Math.min(attempt, 3), left)));
    }
  }
}
