/**
 * The etcd3 client and the one way pgha calls it: every call gets a deadline within retry_timeout,
 * retries transient failures on another endpoint until then, and ends as a result or a DcsError.
 * The library's own retry is switched off and its circuit breaker replaced (host-skip.ts), because
 * they would otherwise keep retrying past our deadline or refuse every member during an election.
 */
import { DcsError, ErrorCodes } from '@pgha/core';
import { ExponentialBackoff, isBrokenCircuitError, noop, type IBackoff } from 'cockatiel';
import {
  Etcd3, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError,
  GRPCUnauthenticatedError, isRecoverableError, type IOptions,
} from 'etcd3';
import type { Etcd3Endpoints, TlsFiles } from './config.js';
import { HostSkipper } from './host-skip.js';
import type { KeepAliveTarget } from './keepalive-stream.js';

export interface ClientSettings {
  readonly endpoints: Etcd3Endpoints;
  readonly auth?: { username: string; password: string };
  readonly tls?: TlsFiles;
}

/** A call's gRPC options: its deadline for this attempt. */
export interface AttemptOptions {
  readonly deadline: number;
}

const MIN_ATTEMPT_MS = 500;

export function createEtcdClient(s: ClientSettings, attemptMs: () => number): Etcd3 {
  const multi = s.endpoints.hosts.length > 1;
  const skipper = new HostSkipper();
  const opts: IOptions = {
    hosts: s.endpoints.hosts,
    dialTimeout: 2000,
    // Unary calls get a deadline even where we forget one (e.g. the token exchange for auth).
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + attemptMs() }),
    faultHandling: {
      // We retry ourselves, within retry_timeout.
      global: noop,
      // With several endpoints, the next attempt avoids one that just failed (host-skip.ts).
      host: multi ? (h) => skipper.policyFor(h) : () => noop,
      // Typed as IBackoff but used as a factory (WatchManager calls .next() on it).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>,
    },
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // Notice a silently dead or hung etcd under the watch stream, whose copy serves the reads
      // (etcd refuses pings more often than every 5 s).
      'grpc.keepalive_time_ms': 6000,
      'grpc.keepalive_timeout_ms': 2000,
      // Per-call bookkeeping an agent has no use for: channelz's call statistics and trace, and
      // grpc-js's own retry layer (DeadlineCaller retries, within retry_timeout).
      'grpc.enable_channelz': 0,
      'grpc.enable_retries': 0,
    },
  };
  if (s.auth) opts.auth = { username: s.auth.username, password: s.auth.password };
  if (s.tls) opts.credentials = s.tls as IOptions['credentials'];
  return requireLeader(new Etcd3(opts));
}

interface Metadata { clone(): Metadata; set(k: string, v: string): void; getMap(): Record<string, unknown> }
interface MetadataSource { getMetadata(): Promise<Metadata>; invalidateMetadata(): void }

function authenticator(client: Etcd3): MetadataSource {
  const auth = (client as unknown as { pool?: { authenticator?: MetadataSource } }).pool?.authenticator;
  if (!auth || typeof auth.getMetadata !== 'function' || typeof auth.invalidateMetadata !== 'function') {
    throw new Error('etcd3 client internals changed: cannot reach its call metadata');
  }
  return auth;
}

/**
 * Every call, the watch stream included, carries etcd's require-leader flag (`hasleader: true`, as
 * etcd's clientv3.WithRequireLeader sets it): a member cut off from the quorum refuses calls and
 * ends the watch stream at once, instead of serving a copy that no longer changes. The library has
 * no option for call metadata, so its authenticator's metadata (auth token, if any) is extended.
 */
function requireLeader(client: Etcd3): Etcd3 {
  const auth = authenticator(client);
  const original = auth.getMetadata.bind(auth);
  auth.getMetadata = async () => {
    const meta = (await original()).clone();
    meta.set('hasleader', 'true');
    return meta;
  };
  return client;
}

/**
 * Where the lease keep-alive stream (keepalive-stream.ts) connects, with the same endpoints, TLS
 * files and call metadata (token, require-leader flag) as the client's own calls.
 */
export function keepAliveTarget(client: Etcd3, s: ClientSettings): KeepAliveTarget {
  const auth = authenticator(client);
  return {
    hosts: s.endpoints.hosts,
    tls: s.tls,
    headers: async () => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries((await auth.getMetadata()).getMap())) out[k.toLowerCase()] = String(v);
      return out;
    },
    invalidateToken: () => auth.invalidateMetadata(),
  };
}

/** Transient: worth another attempt (possibly on another endpoint) before the deadline. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if ((e as { transient?: unknown }).transient === true) return true; // marked so by this plugin (keepalive-stream.ts)
  return isRecoverableError(e) || isBrokenCircuitError(e) || e instanceof EtcdInvalidAuthTokenError ||
    /no leader|leader changed|timed out|too many requests|not capable|connection/i.test(e.message);
}

function isAuthError(e: unknown): boolean {
  return e instanceof EtcdAuthenticationFailedError || e instanceof EtcdPermissionDeniedError ||
    e instanceof GRPCUnauthenticatedError || e instanceof EtcdInvalidAuthTokenError;
}

export function toDcsError(what: string, e: unknown): DcsError {
  if (e instanceof DcsError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DcsError(`etcd3 ${what}: ${msg}`, { cause: e, code: isAuthError(e) ? ErrorCodes.DCS_AUTH : ErrorCodes.DCS_UNAVAILABLE });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs calls with a deadline; `retryTimeout` follows the live configuration. */
export class DeadlineCaller {
  private retryMs: number;

  constructor(retryTimeout: number, private readonly endpointCount: number) {
    this.retryMs = retryTimeout * 1000;
  }

  get budgetMs(): number {
    return this.retryMs;
  }

  setRetryTimeout(seconds: number): void {
    this.retryMs = seconds * 1000;
  }

  /** One attempt's budget: with several endpoints, leave room to try another after a hung one. */
  attemptMs(): number {
    return this.endpointCount > 1 ? Math.max(MIN_ATTEMPT_MS, this.retryMs / 2) : this.retryMs;
  }

  /**
   * Run `fn` until it succeeds, fails for good, or retry_timeout is spent. `fn` must pass the
   * given deadline to the gRPC call. Non-transient errors (auth, invalid request) fail at once.
   */
  async run<T>(what: string, fn: (o: AttemptOptions) => Promise<T>, budgetMs = this.retryMs): Promise<T> {
    const start = performance.now();
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const remaining = budgetMs - (performance.now() - start);
      if (remaining <= 0) {
        throw new DcsError(`etcd3 ${what}: no answer within ${Math.max(0, Math.round(budgetMs)) / 1000}s` +
          (lastError instanceof Error ? ` (${lastError.message})` : ''), { cause: lastError, code: ErrorCodes.DCS_TIMEOUT });
      }
      try {
        return await fn({ deadline: Date.now() + Math.min(remaining, this.attemptMs()) });
      } catch (e) {
        if (!isTransient(e)) throw toDcsError(what, e);
        lastError = e;
      }
      // Back off a little so an etcd that refuses at once does not turn this into a busy loop.
      const left = budgetMs - (performance.now() - start);
      await sleep(Math.max(0, Math.min(50 * 2 ** Math.min(attempt, 3), left)));
    }
  }
}
