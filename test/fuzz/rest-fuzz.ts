/**
 * REST fuzzing: random methods, paths, headers and bodies (deep and huge JSON included), mostly
 * without credentials and some with valid ones. Each request is classified so the oracle knows
 * what it may legitimately cause: unauthenticated writes must be refused, authenticated bodies are
 * built to be refused too (and any that is accepted is recorded as a legitimate action).
 */
import { deepArray, deepObject, type Rng } from './rng.js';
import type { RawRequest, RawResponse } from './raw-http.js';

const READ_SEGMENTS = ['patroni', 'cluster', 'history', 'config', 'metrics', 'failsafe', 'liveness', 'readiness', 'primary', 'master',
  'replica', 'leader', 'health', 'read-only', 'read-write', 'standby-leader', 'standby_leader', 'sync', 'synchronous', 'async',
  'asynchronous', 'quorum', 'read-only-sync', 'read-only-quorum', 'nonexistent', ''];
const WRITE_SEGMENTS = ['config', 'reload', 'failsafe', 'sigterm', 'restart', 'switchover', 'reinitialize', 'failover'];
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'FOO', 'M-SEARCH'];
const BODY_KEYS = ['leader', 'candidate', 'member', 'scheduled_at', 'schedule', 'role', 'postgres_version', 'timeout', 'restart_pending',
  'force', 'ttl', 'loop_wait', 'retry_timeout', 'pause', 'name', 'conn_url', 'api_url', 'slots', '__proto__', 'constructor'];
const BAD_TIMES = ['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z', '2099-02-30T10:00:00+00:00', 'now', '', '1e999', '2099-01-01T24:00:00Z'];

export type Expect = 'refused' | 'any';

export interface RestCase {
  readonly req: RawRequest;
  /** The node the request goes to (index into the cluster's nodes). */
  readonly node: number;
  /** Whether the request carries valid credentials. */
  readonly authenticated: boolean;
  /** A write route (method + first segment) the access check guards. */
  readonly writeRoute: string | null;
}

function writeRouteOf(method: string, path: string): string | null {
  const seg = path.replace(/^\/+/, '').split(/[/?#]/)[0] ?? '';
  const routes: Record<string, string[]> = {
    PATCH: ['config'], PUT: ['config'], POST: ['reload', 'failsafe', 'sigterm', 'restart', 'reinitialize', 'switchover', 'failover'], DELETE: ['restart', 'switchover'],
  };
  let decoded = seg;
  try { decoded = decodeURIComponent(seg); } catch { /* raw */ }
  return routes[method]?.includes(seg) && decoded === seg ? `${method} ${seg}` : null;
}

/** Percent-encode every byte outside [A-Za-z0-9] (lone surrogates included, as their UTF-8 replacement). */
function percentEncode(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'), (b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
}

function randomPath(rng: Rng): string {
  const r = rng.next();
  const seg = rng.pick([...READ_SEGMENTS, ...WRITE_SEGMENTS]);
  if (r < 0.55) return `/${seg}`;
  if (r < 0.7) return `/${seg}?${rng.pick(['lag=', 'lag=10MB', 'lag=-1', 'lag=1e999', 'replication_state=streaming', 'tag_x=y', 'mode=apply', 'a=%ZZ', 'x'.repeat(50)])}${rng.pick(['', '&lag=5', '&tag_nofailover=true'])}`;
  if (r < 0.78) return `/${seg}/${rng.pick(['..', '../..', '%2e%2e', 'x', '%00', '%ff'])}/${rng.pick(['etc/passwd', '', 'patroni'])}`;
  if (r < 0.84) return `/${percentEncode(rng.text(30))}`;
  if (r < 0.88) return `/${'a'.repeat(rng.pick([1000, 9000, 70_000]))}`;
  if (r < 0.92) return rng.pick(['*', 'http://evil.example/', '//', '/\u00e9', '', ' /', '/patroni HTTP/1.0\r\nX: y']);
  return `/${seg}#${rng.text(5)}`;
}

/** A body built to be refused by every write handler (and plenty of random ones). */
function hostileBody(rng: Rng, route: string | null): string {
  const r = rng.next();
  if (r < 0.08) return deepObject(rng.pick([65, 2500, 10_000, 100_000]));
  if (r < 0.12) return deepArray(rng.pick([100, 50_000]));
  if (r < 0.15) return JSON.stringify({ big: 'x'.repeat(rng.pick([900_000, 1_200_000])) });
  if (r < 0.25) return rng.text(40);
  if (r < 0.32) return rng.pick(['', '{', '{"a":1', 'null', '[]', '"x"', '1', '{}', 'true', '{"a":1}{"b":2}', '\ufeff{"leader":"x"}']);
  if (r < 0.5) {
    // Valid JSON with wrong names, types or times: a refusal every time.
    switch (route) {
      case 'POST switchover': case 'POST failover':
        return JSON.stringify(rng.pick([
          { leader: 'nobody', candidate: 'node2', scheduled_at: rng.pick(BAD_TIMES) },
          { leader: 'node1', candidate: 'node1' },
          { leader: rng.pick([1, [], {}, true]), candidate: 'node2' },
          { leader: 'node1', scheduled_at: rng.pick(BAD_TIMES) },
          { leader: 'node2', scheduled_at: rng.pick(BAD_TIMES) },
          { leader: 'nobody', member: 'nobody-else' },
          { candidate: 'ghost' },
        ]));
      case 'POST restart':
        return JSON.stringify(rng.pick([{ schedule: rng.pick(BAD_TIMES) }, { role: 'king' }, { postgres_version: '9' }, { timeout: -1 }, { unknown_filter: 1 }, { role: 'primary', bogus: 1 }]));
      case 'PATCH config': case 'PUT config':
        return rng.pick([deepObject(100), JSON.stringify([1, 2]), '{}', '{"ttl":', 'null']);
      default:
        return JSON.stringify(rng.json(4, BODY_KEYS));
    }
  }
  return JSON.stringify(rng.json(rng.int(1, 6), BODY_KEYS));
}

/** Generate one request. `authHeader` is the valid `Basic ...` value. */
export function restCase(rng: Rng, nodes: number, authHeader: string): RestCase {
  const method = rng.chance(0.35) ? rng.pick(['GET', 'HEAD', 'OPTIONS']) : rng.pick(METHODS);
  const write = rng.chance(0.4);
  const path = write ? `/${rng.pick(WRITE_SEGMENTS)}${rng.chance(0.1) ? '?x=1' : ''}` : randomPath(rng);
  const writeRoute = writeRouteOf(method, path);
  // Authenticated requests to the actions that need no body (reinitialize a replica, restart with
  // `{}`, reload) would be legitimate requests: they go to refusing shapes, reinitialize only to the leader.
  const authenticated = rng.chance(0.15) && writeRoute !== 'POST sigterm';
  const node = writeRoute === 'POST reinitialize' && authenticated ? -1 : rng.int(0, nodes - 1);
  const headers: Array<[string, string]> = [['Host', rng.chance(0.95) ? '127.0.0.1' : rng.text(30).replace(/[\r\n]/g, '')]];
  if (authenticated) headers.push(['Authorization', authHeader]);
  else if (rng.chance(0.3)) headers.push(['Authorization', rng.pick(['Basic ', 'Basic !!!', `Basic ${Buffer.from('admin:wrong').toString('base64')}`, 'Bearer x', `Basic ${Buffer.from(rng.text(20)).toString('base64')}`, 'Basic YWRtaW4='])]);
  if (rng.chance(0.3)) headers.push(['Content-Type', rng.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', rng.text(10).replace(/[\r\n]/g, '')])]);
  if (rng.chance(0.05)) headers.push(['X-Big', 'x'.repeat(rng.pick([100, 20_000]))]);
  if (rng.chance(0.03)) headers.push(['Expect', '100-continue']);
  if (rng.chance(0.03)) headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade']);
  let body: Buffer | null = null;
  let hangUp = false;
  if (method !== 'GET' && method !== 'HEAD' && rng.chance(0.85)) {
    body = Buffer.from(hostileBody(rng, writeRoute), rng.chance(0.03) ? 'latin1' : 'utf8');
    if (rng.chance(0.02)) body = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0xc3]);
    const r = rng.next();
    if (r < 0.82) headers.push(['Content-Length', String(body.length)]);
    else if (r < 0.87) { headers.push(['Content-Length', String(body.length + rng.int(1, 100))]); hangUp = true; }
    else if (r < 0.9) headers.push(['Content-Length', rng.pick(['-1', 'abc', '1e3', '99999999999999999999', ' 5'])]);
    else if (r < 0.93) headers.push(['Content-Length', String(body.length)], ['Content-Length', String(body.length + 1)]);
    else if (r < 0.97) {
      headers.push(['Transfer-Encoding', 'chunked']);
      body = Buffer.concat([Buffer.from(`${rng.pick([body.length.toString(16), 'zz', 'ffffffff'])}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    } // else: no length at all
  }
  headers.push(['Connection', 'close']);
  return { req: { method, path, headers, body, hangUp }, node, authenticated, writeRoute };
}

/** Write routes whose JSON body is optional (Patroni's `_read_json_content(body_is_optional=True)`). */
const OPTIONAL_BODY = ['POST restart', 'POST reinitialize', 'POST reload', 'POST sigterm', 'DELETE restart', 'DELETE switchover'];

/** Texts a 500 may legitimately carry (Patroni answers these with 500 too). */
const LEGIT_500 = [/^Can't schedule restart in the paused state$/, /^Running as a leader$/];

export interface Verdict {
  readonly problem: string | null;
  /** An action the request legitimately asked for and got (2xx on an action route with credentials). */
  readonly accepted: string | null;
}

/** Judge one response. */
export function judge(c: RestCase, res: RawResponse): Verdict {
  const body = res.text.slice(res.text.indexOf('\r\n\r\n') + 4);
  const what = `${c.req.method} ${c.req.path.slice(0, 80)}`;
  if (res.status === 0) {
    // Only a client that hung up, a connection-level refusal of an absurd request, or CONNECT may see no status line.
    return { problem: c.req.hangUp ? null : `${what}: no response`, accepted: null };
  }
  if (res.status === 500 && !LEGIT_500.some((r) => r.test(body))) return { problem: `${what}: 500 ${body.slice(0, 200)}`, accepted: null };
  if (c.writeRoute && !c.authenticated && res.status < 400) return { problem: `${what}: unauthenticated write answered ${res.status}`, accepted: null };
  // Without Content-Length (and not chunked) a request has no body: bytes after the head are a second,
  // pipelined request whose 400 may reach the client first. The first one is complete and valid, so an
  // authenticated action whose body is optional legitimately runs whatever the client then read.
  const lengthless = !c.req.headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
  const optionalBody = c.writeRoute !== null && OPTIONAL_BODY.includes(c.writeRoute);
  const accepted = c.writeRoute && c.authenticated && ((res.status >= 200 && res.status < 300) || (lengthless && optionalBody)) ? c.writeRoute : null;
  return { problem: null, accepted };
}
