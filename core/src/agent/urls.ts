/** conn_url and api_url a member publishes, from `postgresql.connect_address` and `restapi`. */
import { apiUrl } from '../api/server.js';
import type { RestApiConfig } from '../api/types.js';
import { buildUri } from '../model/names.js';
import { isPlainObject } from '../util/json.js';

function hostPort(addr: unknown, fallback: string): [string, string] {
  const s = typeof addr === 'string' && addr ? addr : fallback;
  const i = s.lastIndexOf(':');
  return i > 0 ? [s.slice(0, i).replace(/^\[|\]$/g, ''), s.slice(i + 1)] : [s, ''];
}

type MemberUrls = { connUrl: string; apiUrl: string; proxyUrl: string | null };

/** Per configuration object (a reload brings a new one): the member key is written every cycle. */
const known = new WeakMap<object, MemberUrls>();

export function memberUrls(config: Record<string, unknown>): MemberUrls {
  let urls = known.get(config);
  if (!urls) known.set(config, (urls = buildMemberUrls(config)));
  return urls;
}

function buildMemberUrls(config: Record<string, unknown>): MemberUrls {
  const pg = isPlainObject(config.postgresql) ? config.postgresql : {};
  const [h, p] = hostPort(pg.connect_address ?? pg.listen, '127.0.0.1:5432');
  const proxy = typeof pg.proxy_address === 'string' && pg.proxy_address ? hostPort(pg.proxy_address, '') : null;
  return {
    connUrl: buildUri('postgres', h, p, 'postgres'),
    apiUrl: apiUrl((isPlainObject(config.restapi) ? config.restapi : {}) as RestApiConfig),
    proxyUrl: proxy ? buildUri('postgres', proxy[0], proxy[1], 'postgres') : null,
  };
}
