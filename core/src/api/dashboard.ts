/**
 * The web dashboard: `GET /dashboard/` serves a static page (core/assets/dashboard, plus uPlot from
 * its npm package) that polls `GET /dashboard/state` and acts through the ordinary REST endpoints.
 * Reads need no credentials, like every GET of the API; actions carry the user's Basic credentials,
 * pass the same access control as any write, and run through the ordinary endpoints (see
 * `postDashboardAction`).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { httpRequest } from '../util/http-request.js';
import { patchConfigEndpoint } from './config-endpoints.js';
import { postReinitialize, postReload, postRestart } from './control-endpoints.js';
import { dashboardState } from './dashboard-state.js';
import { postSwitchover } from './failover-endpoints.js';
import { errorReply, jsonReply, readJsonObject, textReply } from './http-util.js';
import type { ApiContext, Handler, Reply } from './types.js';

const ASSETS = new URL('../../assets/dashboard/', import.meta.url);
const require = createRequire(import.meta.url);

/** The only files served, by name: nothing from the request ever becomes a path. */
const FILES: Readonly<Record<string, { path: () => string; type: string }>> = {
  '': { path: () => fileURLToPath(new URL('index.html', ASSETS)), type: 'text/html; charset=utf-8' },
  'app.js': { path: () => fileURLToPath(new URL('app.js', ASSETS)), type: 'text/javascript; charset=utf-8' },
  'style.css': { path: () => fileURLToPath(new URL('style.css', ASSETS)), type: 'text/css; charset=utf-8' },
  'uPlot.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The page runs only its own files: no inline script, no other origin, no framing. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

const cache = new Map<string, string>();

async function asset(name: string): Promise<string> {
  let text = cache.get(name);
  if (text === undefined) {
    text = await readFile(FILES[name]!.path(), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** `GET /dashboard...`: the page, its files, and its state document. */
export async function getDashboard(ctx: ApiContext): Promise<Reply> {
  // `/dashboard` -> `/dashboard/`, so the page's relative URLs work behind a path prefix too.
  if (ctx.path === '/dashboard') return { status: 302, headers: { Location: 'dashboard/' }, text: 'Found: dashboard/' };
  const rest = ctx.path.replace(/^\/+dashboard\//, '');
  if (rest === 'state') {
    return { ...jsonReply(200, await dashboardState(ctx)), headers: { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } };
  }
  if (!Object.hasOwn(FILES, rest)) return errorReply(404, `no such dashboard file: ${rest.slice(0, 100)}`);
  try {
    return { status: 200, text: await asset(rest), contentType: FILES[rest]!.type, headers: PAGE_HEADERS };
  } catch (e) {
    ctx.logger.error({ err: e }, `dashboard: cannot read ${rest || 'index.html'}`);
    return errorReply(500, 'dashboard files are missing from this installation');
  }
}

/** What `POST /dashboard/action` does: the endpoint it becomes, where it runs, and its body. */
interface Plan {
  readonly member: string | null;
  readonly method: 'POST' | 'PATCH';
  readonly endpoint: string;
  readonly handler: Handler;
  readonly body: Record<string, unknown>;
}

const FORWARD_TIMEOUT_MS = 120_000;

function plan(body: Record<string, unknown>): Plan | string {
  const { action, member, candidate, force } = body;
  switch (action) {
    case 'switchover':
      if (typeof body.leader !== 'string' || !body.leader) return '"leader" must name the current leader';
      if (typeof candidate !== 'string' || !candidate) return '"candidate" must name a member';
      return { member: null, method: 'POST', endpoint: 'switchover', handler: postSwitchover, body: { leader: body.leader, candidate } };
    case 'pause':
    case 'resume':
      return { member: null, method: 'PATCH', endpoint: 'config', handler: patchConfigEndpoint, body: { pause: action === 'pause' ? true : null } };
    case 'restart':
    case 'reload':
    case 'reinitialize': {
      if (typeof member !== 'string' || !member) return '"member" must be a member name';
      if (force !== undefined && typeof force !== 'boolean') return '"force" must be true or false';
      const handler = action === 'restart' ? postRestart : action === 'reload' ? postReload : postReinitialize;
      return { member, method: 'POST', endpoint: action, handler, body: action === 'reinitialize' && force ? { force: true } : {} };
    }
    default:
      return '"action" must be one of switchover, pause, resume, restart, reload, reinitialize';
  }
}

/** The original request, carrying `body` instead of its own: the endpoint's handler reads and checks it as usual. */
function withBody(req: IncomingMessage, body: Record<string, unknown>): IncomingMessage {
  const raw = Buffer.from(JSON.stringify(body));
  const r = Readable.from([raw]);
  return Object.assign(r, {
    headers: { ...req.headers, 'content-type': 'application/json', 'content-length': String(raw.length) },
    method: 'POST', url: req.url, socket: req.socket,
  }) as unknown as IncomingMessage;
}

/** Send the action to another member's REST API, with the caller's credentials; its answer is ours. */
async function forward(ctx: ApiContext, name: string, p: Plan): Promise<Reply> {
  const cluster = await ctx.backend.dcs.getCluster();
  const member = cluster.members.find((m) => m.name === name);
  if (!member) return errorReply(404, `no member named ${JSON.stringify(name.slice(0, 100))}`);
  let url: URL;
  try {
    url = new URL(member.apiUrl ?? '');
  } catch {
    return errorReply(502, `member ${name} publishes no usable api_url`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return errorReply(502, `member ${name} publishes no usable api_url`);
  url.pathname = `/${p.endpoint}`;
  url.search = '';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (typeof ctx.req.headers.authorization === 'string') headers.authorization = ctx.req.headers.authorization;
  try {
    // node:http follows no redirect: a member's 3xx is passed back as it is.
    const res = await httpRequest(url, { method: p.method, headers, body: JSON.stringify(p.body), signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) }, { maxBytes: 64 * 1024 });
    return textReply(res.status, (await res.text()).slice(0, 4096));
  } catch (e) {
    return errorReply(502, `${name} did not answer: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * `POST /dashboard/action` `{"action": ..., ...}`, after this node's access control (its 401 carries
 * no Basic challenge, so browsers don't pop up their own login over the page's):
 * `switchover` `{leader, candidate}`, `pause`, `resume` run here through the ordinary endpoints;
 * `restart`, `reload`, `reinitialize` `{member, force?}` run here for this node and are forwarded
 * to the member's own API otherwise (a browser can't call another origin).
 */
export async function postDashboardAction(ctx: ApiContext): Promise<Reply> {
  if (ctx.path.replace(/\/+$/, '') !== '/dashboard/action') return errorReply(404, 'the dashboard accepts POST only at /dashboard/action');
  // A JSON content type can't be sent cross-site without a CORS preflight, which this API never grants.
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return errorReply(415, 'Content-Type must be application/json');
  const p = plan(await readJsonObject(ctx.req, { optional: false, maxBytes: 4096 }));
  if (typeof p === 'string') return errorReply(400, p);
  if (p.member !== null && p.member !== ctx.backend.name) return forward(ctx, p.member, p);
  const reply = await p.handler({ ...ctx, req: withBody(ctx.req, p.body), path: `/${p.endpoint}` });
  // PATCH /config answers with the whole configuration; the page wants a sentence.
  if (p.endpoint === 'config' && reply.status === 200) return textReply(200, p.body.pause ? 'Cluster paused' : 'Cluster resumed');
  return reply;
}
