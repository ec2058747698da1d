/**
 * The web dashboard: `GET /dashboard/` serves a static page (core/assets/dashboard, plus uPlot from
 * its npm package) that polls `GET /dashboard/state` and acts through the ordinary REST endpoints.
 * Reads need no credentials, like every GET of the API; actions carry the user's Basic credentials
 * and pass the same access control as any write. Per-member actions (restart, reload, reinitialize)
 * on another member go through `POST /dashboard/action`, which forwards them to that member's API
 * (a browser can't call another origin), after this node's own access check.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dashboardState } from './dashboard-state.js';
import { errorReply, jsonReply, readJsonObject, textReply } from './http-util.js';
import type { ApiContext, Reply } from './types.js';

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

/** Actions a member runs on itself, forwarded by `POST /dashboard/action`. */
const MEMBER_ACTIONS = new Set(['restart', 'reload', 'reinitialize']);
const FORWARD_TIMEOUT_MS = 120_000;

/** `POST /dashboard/action` `{"member": "node2", "action": "restart"|"reload"|"reinitialize", "force"?: bool}`. */
export async function postDashboardAction(ctx: ApiContext): Promise<Reply> {
  if (ctx.path.replace(/\/+$/, '') !== '/dashboard/action') return errorReply(404, 'the dashboard accepts POST only at /dashboard/action');
  // A JSON content type can't be sent cross-site without a CORS preflight, which this API never grants.
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return errorReply(415, 'Content-Type must be application/json');
  const body = await readJsonObject(ctx.req, { optional: false, maxBytes: 4096 });
  const { member: name, action, force } = body;
  if (typeof name !== 'string' || !name) return errorReply(400, '"member" must be a member name');
  if (typeof action !== 'string' || !MEMBER_ACTIONS.has(action)) return errorReply(400, '"action" must be one of restart, reload, reinitialize');
  if (force !== undefined && typeof force !== 'boolean') return errorReply(400, '"force" must be true or false');
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
  url.pathname = `/${action}`;
  url.search = '';
  const payload = action === 'reinitialize' && force ? '{"force":true}' : '{}';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (typeof ctx.req.headers.authorization === 'string') headers.authorization = ctx.req.headers.authorization;
  try {
    const res = await fetch(url, { method: 'POST', headers, body: payload, redirect: 'error', signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    const text = (await res.text()).slice(0, 4096);
    return textReply(res.status, text);
  } catch (e) {
    return errorReply(502, `${name} did not answer: ${e instanceof Error ? e.message : String(e)}`);
  }
}
