/** conn_url and api_url a member publishes, from `postgresql.connect_address` and `restapi.connect_address`. */
import { buildUri } from '../model/names.js';
import { isPlainObject } from '../util/json.js';

function hostPort(addr: unknown, fallback: string): [string, string] {
  const s = typeof addr === 'string' && addr ? addr : fallback;
  const i = s.lastIndexOf(':');
  return i > 0 ? [s.slice(0, i).replace(/^\[|\]$/g, ''), s.slice(i + 1)] : [s, ''];
}

export function memberUrls(config: Record<string, unknown>): { connUrl: string; apiUrl: string; proxyUrl: string | null } {
  const pg = isPlainObject(config.postgresql) ? config.postgresql : {};
  const api = isPlainObject(config.restapi) ? config.restapi : {};
  const [h, p] = hostPort(pg.connect_address ?? pg.listen, '127.0.0.1:5432');
  const [ah, ap] = hostPort(api.connect_address ?? api.listen, '127.0.0.1:8008');
  const proto = api.certfile ? 'https' : 'http';
  const proxy = typeof pg.proxy_address === 'string' && pg.proxy_address ? hostPort(pg.proxy_address, '') : null;
  return {
    connUrl: buildUri('postgres', h, p, 'postgres'),
    apiUrl: buildUri(proto, ah, ap, 'patroni'),
    proxyUrl: proxy ? buildUri('postgres', proxy[0], proxy[1], 'postgres') : null,
  };
}
