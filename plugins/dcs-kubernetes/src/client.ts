/**
 * The Kubernetes API as the driver uses it: @kubernetes/client-node's KubeConfig (in-cluster service
 * account or kubeconfig, TLS, token/exec auth) and Watch, and a thin JSON client for the core/v1
 * calls, so every request carries the caller's deadline and the exact patch media type.
 *
 * Error rules: 409 → ConflictError (a lost compare-and-swap), 404 → NotFoundError; retriable codes
 * (500/503/504 + retriable_http_codes, or a Retry-After header) and network failures are retried until
 * the deadline, then become DcsError; any other status is a DcsError at once.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { DcsError, ErrorCodes, PghaError } from '@pgha/core';
import fetch, { type RequestInit } from 'node-fetch';

export type K8sObject = { metadata: Record<string, any> } & Record<string, any>;

export class ConflictError extends Error {}
export class NotFoundError extends Error {}

/** Where the API is and who we are, Patroni's order: in-cluster service account first, else kubeconfig. */
export function loadKubeConfig(opts: { context?: string; cacert?: string }): KubeConfig {
  const kc = new KubeConfig();
  const env = process.env;
  const cacert = env.PATRONI_KUBERNETES_CACERT || opts.cacert;
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc.loadFromCluster();
    if (cacert) {
      const c = kc.clusters[0]!;
      kc.clusters = [{ ...c, caFile: cacert }];
    }
    return kc;
  }
  const file = env.KUBECONFIG?.split(':').find(Boolean) ?? join(homedir(), '.kube', 'config');
  if (!existsSync(file)) {
    throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID,
      `kubernetes: not running in a Pod (KUBERNETES_SERVICE_HOST unset) and no kubeconfig at ${file} (set KUBECONFIG)`);
  }
  kc.loadFromFile(file);
  // Patroni's default context is `kind-kind`; when the file has none by that name use its current-context.
  const context = opts.context ?? (kc.contexts.some((c) => c.name === 'kind-kind') ? 'kind-kind' : kc.getCurrentContext());
  if (!kc.contexts.some((c) => c.name === context)) {
    throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, `kubernetes.context: no context named ${context} in ${file}`);
  }
  kc.setCurrentContext(context);
  if (cacert) kc.clusters = kc.clusters.map((c) => (c.name === kc.getContextObject(context)?.cluster ? { ...c, caFile: cacert } : c));
  if (!kc.getCurrentCluster()) throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, `kubernetes: context ${context} names no cluster in ${file}`);
  // A plain-http server (`kubectl proxy`, as Patroni accepts it) has no TLS to verify; client-node
  // refuses http unless told so.
  kc.clusters = kc.clusters.map((c) => (/^http:\/\//i.test(c.server) ? { ...c, skipTLSVerify: true } : c));
  return kc;
}

export const MERGE_PATCH = 'application/merge-patch+json';

export class K8sClient {
  private readonly server: string;
  private readonly watcher: Watch;

  constructor(private readonly kc: KubeConfig, private readonly retriable: ReadonlySet<number>) {
    this.server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
    this.watcher = new Watch(kc);
  }

  /**
   * One API call, retried on transient failures until `deadline` (a performance.now() instant).
   * `onSend` sees the send instant of every attempt (the leader lease is measured from the first).
   */
  async call(method: string, path: string, deadline: number, body?: unknown, contentType = 'application/json',
    onSend?: (at: number) => void): Promise<any> {
    let lastError = '';
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) throw new DcsError(`${method} ${path}: ${lastError || 'no time left'} (retry_timeout exhausted)`, { code: ErrorCodes.DCS_TIMEOUT });
      const init = (await this.kc.applyToFetchOptions({})) as RequestInit;
      const headers = new Map<string, string>();
      (init.headers as any)?.forEach?.((v: string, k: string) => headers.set(k, v));
      headers.set('accept', 'application/json');
      if (body !== undefined) headers.set('content-type', contentType);
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), left);
      let retryAfter = 0;
      try {
        onSend?.(performance.now());
        const res = await fetch(this.server + path, {
          ...init, method, headers: Object.fromEntries(headers), signal: ac.signal as any,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        if (res.status >= 200 && res.status < 300) return text ? JSON.parse(text) : null;
        const message = statusMessage(text) ?? res.statusText;
        if (res.status === 409) throw new ConflictError(message);
        if (res.status === 404) throw new NotFoundError(message);
        const ra = res.headers.get('retry-after');
        if (!this.retriable.has(res.status) && ra === null) {
          const code = res.status === 401 || res.status === 403 ? ErrorCodes.DCS_AUTH : ErrorCodes.DCS_UNAVAILABLE;
          throw new DcsError(`${method} ${path}: ${res.status} ${message}`, { code });
        }
        lastError = `${res.status} ${message}`;
        retryAfter = ra !== null && /^\d+$/.test(ra) ? Number(ra) * 1000 : 0;
      } catch (e) {
        if (e instanceof ConflictError || e instanceof NotFoundError || e instanceof DcsError) throw e;
        // Our own deadline abort says nothing new: keep the failure that made us retry.
        if (ac.signal.aborted) lastError ||= 'no answer';
        else lastError = e instanceof Error ? e.message : String(e);
      } finally {
        clearTimeout(timer);
      }
      const pause = Math.min(Math.max(retryAfter, Math.min(1000, 100 * 2 ** attempt)), deadline - performance.now() - 50);
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * Stream watch events of `path` from `resourceVersion` until aborted. `onEvent` gets each event;
   * `onEnd` the reason the stream ended (null: the server closed it).
   */
  async watch(path: string, params: Record<string, string>, onEvent: (type: string, obj: any) => void,
    onEnd: (err: unknown) => void): Promise<AbortController> {
    return this.watcher.watch(path, params, (type, obj) => onEvent(type, obj), onEnd);
  }
}

function statusMessage(text: string): string | null {
  try {
    const s = JSON.parse(text);
    return typeof s?.message === 'string' ? s.message : null;
  } catch {
    return text ? text.slice(0, 200) : null;
  }
}
