/**
 * The agent's HTTP client for other members' REST APIs (peer statuses in the leader race and before
 * a switchover, the duplicate-name check, the switchover handover), made as Patroni's
 * `PatroniRequest(config, insecure=True)` makes them: over https when the member's api_url says so,
 * WITHOUT verifying the server certificate unless a client certificate is configured (then the CA
 * from ctl.cacert / restapi.cafile is checked, but not the host name); client certificate from
 * ctl.certfile / keyfile / keyfile_password; Basic auth from ctl.authentication, else
 * restapi.authentication. Plain `fetch` could not reach a TLS REST API with a private CA at all,
 * so every peer looked unreachable.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { HttpClient } from '../di.js';
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

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `config` is the local configuration, or a function returning the current one (a reload then
 * applies new certificates and credentials, as Patroni's request.reload_config does).
 */
export function memberHttpClient(config: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>), plain: HttpClient = fetch): HttpClient {
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
  const client = async (input: Parameters<HttpClient>[0], init: Parameters<HttpClient>[1] = {}): Promise<Response> => {
    const c = settings();
    const s = c.s;
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init.headers);
    if (s.authorization && !headers.has('authorization')) headers.set('authorization', s.authorization);
    if (url.protocol !== 'https:') return plain(url, { ...init, headers });
    const body = init.body === undefined || init.body === null ? null : typeof init.body === 'string' ? init.body : Buffer.from(await new Response(init.body).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(url, {
        method: init.method ?? 'GET', headers: Object.fromEntries(headers.entries()), agent: tlsAgent(c), signal: init.signal ?? undefined,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 500;
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, headers: h }));
        });
      });
      req.on('error', reject);
      if (body !== null) req.write(body);
      req.end();
    });
  };
  return client as HttpClient;
}
