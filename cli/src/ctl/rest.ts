/**
 * REST calls to members as patronictl's PatroniRequest makes them: the member's `api_url` with the
 * path replaced by the endpoint, JSON bodies, Basic auth from `ctl.authentication` (else
 * `restapi.authentication`), CA from `ctl.cacert` (else `restapi.cafile`), client certificate from
 * `ctl.certfile`/`keyfile`/`keyfile_password`, and `insecure` to skip server verification.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isPlainObject } from '@pgha/core';

export interface RestSettings {
  readonly auth?: { username: string; password: string } | null;
  readonly insecure?: boolean;
  readonly cacert?: string | null;
  readonly certfile?: string | null;
  readonly keyfile?: string | null;
  readonly keyfilePassword?: string | null;
}

export interface RestResponse {
  readonly status: number;
  readonly text: string;
}

/** What the client needs of a member: its name and REST API URL. */
export interface RestTarget {
  readonly name: string;
  readonly apiUrl: string | null;
}

function section(config: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = config[key];
  return isPlainObject(v) ? v : {};
}

function authOf(v: unknown): { username: string; password: string } | null {
  if (!isPlainObject(v) || v.username === undefined || v.username === null) return null;
  return { username: String(v.username), password: v.password === undefined || v.password === null ? '' : String(v.password) };
}

const strOrNull = (v: unknown) => (typeof v === 'string' && v ? v : null);

/** The ctl section with Patroni's fallbacks to the restapi section; `-k` wins over `ctl.insecure`. */
export function restSettingsFromConfig(config: Record<string, unknown>, insecureFlag?: boolean): RestSettings {
  const ctl = section(config, 'ctl');
  const restapi = section(config, 'restapi');
  return {
    auth: authOf(ctl.authentication) ?? authOf(restapi.authentication),
    insecure: !!insecureFlag || ctl.insecure === true || ctl.insecure === 'true',
    cacert: strOrNull(ctl.cacert) ?? strOrNull(restapi.cafile),
    certfile: strOrNull(ctl.certfile),
    keyfile: strOrNull(ctl.keyfile),
    keyfilePassword: strOrNull(ctl.keyfile_password),
  };
}

export class RestClient {
  private agent: https.Agent | null = null;

  constructor(private readonly settings: RestSettings) {}

  private httpsAgent(): https.Agent {
    if (this.agent) return this.agent;
    const s = this.settings;
    this.agent = new https.Agent({
      rejectUnauthorized: !s.insecure,
      ...(s.insecure ? { checkServerIdentity: () => undefined } : {}),
      ...(s.cacert ? { ca: readFileSync(s.cacert) } : {}),
      ...(s.certfile ? { cert: readFileSync(s.certfile), key: readFileSync(s.keyfile ?? s.certfile) } : {}),
      ...(s.certfile && s.keyfilePassword ? { passphrase: s.keyfilePassword } : {}),
    });
    return this.agent;
  }

  /** The member's api_url with its path replaced by `/<endpoint>`. */
  static endpointUrl(apiUrl: string, endpoint?: string): URL {
    const url = new URL(apiUrl);
    if (endpoint) url.pathname = `/${endpoint.replace(/^\/+/, '')}`;
    return url;
  }

  /**
   * One request; rejects when the member can't be reached (connection refused, timeout). Any HTTP
   * status resolves. `timeoutMs` 0 waits as long as the member takes (switchover polls for a while).
   */
  request(member: RestTarget, method: string, endpoint?: string, body?: unknown, timeoutMs = 30_000): Promise<RestResponse> {
    if (!member.apiUrl) return Promise.reject(new Error(`member ${member.name} has no api_url`));
    const url = RestClient.endpointUrl(member.apiUrl, endpoint);
    const payload = body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { 'User-Agent': 'pgha-ctl' };
    if (payload !== null) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const auth = this.settings.auth;
    if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method: method.toUpperCase(), headers, ...(secure ? { agent: this.httpsAgent() } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs / 1000}s`)));
      req.on('error', reject);
      req.end(payload ?? undefined);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** Parse a JSON body, or null when it isn't JSON. */
export function jsonBody(r: RestResponse): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(r.text);
    return isPlainObject(v) ? v : null;
  } catch {
    return null;
  }
}
