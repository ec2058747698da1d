/**
 * The agent's HTTP client for other members' REST APIs (peer statuses in the leader race and before
 * a switchover, the duplicate-name check, the switchover handover), made as Patroni's
 * `PatroniRequest(config, insecure=True)` makes them: over https when the member's api_url says so,
 * WITHOUT verifying the server certificate unless a client certificate is configured (then the CA
 * from ctl.cacert / restapi.cafile is checked, but not the host name); client certificate from
 * ctl.certfile / keyfile / keyfile_password; Basic auth from ctl.authentication, else
 * restapi.authentication. Plain `fetch` could not reach a TLS REST API with a private CA at all,
 * so every peer looked unreachable; it is not used for plain http either (util/http-request.ts).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { HttpClient } from '../di.js';
import { httpRequest } from '../util/http-request.js';
import { isPlainObject } from '../util/json.js';

const sectionOf = (c: Readonly<Record<string, unknown>>, k: string): Readonly<Record<string, unknown>> => {
  const v = c[k];
  return isPlainObject(v) ? v : {};
};
const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

function basicAuth(v: unknown): string | null {
  if (!isPlainObject(v) || v.username === undefined || v.username === null) return null;
  const pass = v.password === undefined || v.password === null ? '' : String(v.password);
  return `Basic ${Buffer.from(`${String(v.username)}:${pass}`).toString('base64')}`;
}

export interface MemberHttpSettings {
  readonly authorization: string | null;
  readonly cacert: string | null;
  readonly certfile: string | null;
  readonly keyfile: string | null;
  readonly keyfilePassword: string | null;
}

export function memberHttpSettings(config: Readonly<Record<string, unknown>>): MemberHttpSettings {
  const ctl = sectionOf(config, 'ctl');
  const restapi = sectionOf(config, 'restapi');
  return {
    authorization: basicAuth(ctl.authentication) ?? basicAuth(restapi.authentication),
    cacert: str(ctl.cacert) ?? str(restapi.cafile),
    certfile: str(ctl.certfile),
    keyfile: str(ctl.keyfile),
    keyfilePassword: str(ctl.keyfile_password),
  };
}

/**
 * `config` is the local configuration, or a function returning the current one (a reload then
 * applies new certificates and credentials, as Patroni's request.reload_config does).
 */
export function memberHttpClient(config: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>)): HttpClient {
  const current = typeof config === 'function' ? config : () => config;
  const read = (p: string | null) => (p ? readFileSync(p) : undefined);
  let cached: { key: string; s: MemberHttpSettings; agent: https.Agent | null } | null = null;
  const settings = () => {
    const s = memberHttpSettings(current());
    const key = JSON.stringify(s);
    if (cached?.key !== key) cached = { key, s, agent: null };
    return cached;
  };
  const tlsAgent = (c: NonNullable<typeof cached>): https.Agent => (c.agent ??= new https.Agent({
    // insecure=True: no verification without a client certificate; with one, the CA but not the host name.
    rejectUnauthorized: !!c.s.certfile,
    checkServerIdentity: () => undefined,
    ca: read(c.s.cacert), cert: read(c.s.certfile), key: read(c.s.keyfile ?? c.s.certfile), passphrase: c.s.keyfilePassword ?? undefined,
  }));
  return (url, init = {}) => {
    const c = settings();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(init.headers ?? {})) headers[k.toLowerCase()] = v;
    if (c.s.authorization && headers.authorization === undefined) headers.authorization = c.s.authorization;
    const target = typeof url === 'string' ? new URL(url) : url;
    return httpRequest(target, { ...init, headers }, target.protocol === 'https:' ? { tlsAgent: tlsAgent(c) } : {});
  };
}

/**
 * The same client as WHATWG fetch, the `http` service plugins may declare (@pgha/plugin-api 1.0).
 * fetch's Request, Headers and Response classes load only when a plugin makes a request.
 */
export function pluginFetch(client: HttpClient): typeof fetch {
  return async (input, init = {}) => {
    const req = input instanceof Request ? input : null;
    const url = new URL(req ? req.url : String(input));
    const headers = Object.fromEntries(new Headers(init.headers ?? req?.headers).entries());
    const raw = init.body ?? (req && req.body ? await req.text() : undefined);
    let body: string | undefined;
    if (typeof raw === 'string') body = raw;
    else if (raw !== undefined && raw !== null) {
      // As fetch does: form data, search params and blobs bring their own content type.
      const r = new Response(raw);
      body = await r.text();
      const type = r.headers.get('content-type');
      if (type !== null && headers['content-type'] === undefined) headers['content-type'] = type;
    }
    const res = await client(url, { method: init.method ?? req?.method ?? 'GET', headers, body, signal: init.signal ?? req?.signal ?? undefined });
    const h = new Headers();
    res.headers.forEach((v, k) => h.set(k, v));
    return new Response(NULL_BODY.has(res.status) ? null : await res.text(), { status: res.status, headers: h });
  };
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
