/**
 * The `etcd3:` section, as Patroni reads it, and its translation into etcd3 client options.
 * Validation errors carry key paths (`etcd3.hosts.1`), which the plugin host prefixes.
 */
import { readFileSync } from 'node:fs';
import { ErrorCodes, PghaError } from '@pgha/core';
import { z } from 'zod';

/** YAML may give `password: 1234` or `host: 10.0.0.1` unquoted; env vars always give strings. */
const scalarString = z.union([z.string(), z.number()]).transform((v) => String(v));

const endpoint = z.string().trim().min(1, 'must not be empty');

/** `hosts` is a YAML list or a comma-separated string, as in Patroni. */
const hostList = z.union([
  z.array(endpoint),
  z.string().transform((s) => s.split(',').map((h) => h.trim()).filter(Boolean)),
]);

export const etcd3ConfigSchema = z.looseObject({
  host: scalarString.optional(),
  hosts: hostList.optional(),
  url: z.string().trim().optional(),
  protocol: z.enum(['http', 'https']).optional(),
  username: scalarString.optional(),
  password: scalarString.optional(),
  cacert: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  // Accepted for config compatibility; every endpoint is talked to directly over gRPC anyway.
  use_proxies: z.union([z.boolean(), z.string()]).optional(),
}).superRefine((c, ctx) => {
  if (c.username !== undefined && c.password === undefined) {
    ctx.addIssue({ code: 'custom', path: ['password'], message: 'required when username is set' });
  }
  if (c.key !== undefined && c.cert === undefined) {
    ctx.addIssue({ code: 'custom', path: ['cert'], message: 'required when key is set' });
  }
  if (c.cert !== undefined && c.key === undefined) {
    ctx.addIssue({ code: 'custom', path: ['key'], message: 'required when cert is set' });
  }
  for (const unsupported of ['srv', 'srv_suffix', 'proxy', 'key_password'] as const) {
    if (c[unsupported] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [unsupported], message: UNSUPPORTED[unsupported] });
    }
  }
  const urls = [c.url, c.host, ...(c.hosts ?? [])].filter((u): u is string => !!u);
  urls.forEach((u) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u) && !/^https?:\/\//i.test(u)) {
      const path = u === c.url ? ['url'] : u === c.host ? ['host'] : ['hosts', (c.hosts ?? []).indexOf(u)];
      ctx.addIssue({ code: 'custom', path, message: `unsupported scheme in ${u} (use http:// or https://)` });
    }
  });
});

const UNSUPPORTED = {
  srv: 'DNS SRV discovery is not supported by the etcd3 plugin; list the endpoints in hosts',
  srv_suffix: 'DNS SRV discovery is not supported by the etcd3 plugin; list the endpoints in hosts',
  proxy: 'etcd proxies are not supported; list the etcd endpoints in hosts',
  key_password: 'encrypted client keys are not supported; decrypt the key file',
} as const;

export type Etcd3Config = z.output<typeof etcd3ConfigSchema>;

export interface Etcd3Endpoints {
  /** `http://127.0.0.1:2379` style, all with the same scheme. */
  readonly hosts: string[];
  readonly secure: boolean;
}

const DEFAULT_PORT = 2379;

/** Patroni's precedence: `url`, then `hosts`, then `host`, then 127.0.0.1:2379. */
export function resolveEndpoints(c: Etcd3Config): Etcd3Endpoints {
  const raw = c.url ? [c.url] : c.hosts?.length ? c.hosts : c.host ? [c.host] : [`127.0.0.1:${DEFAULT_PORT}`];
  const protocol = c.protocol ?? (raw.some((h) => /^https:\/\//i.test(h)) || c.cacert || c.cert ? 'https' : 'http');
  const hosts = raw.map((h) => {
    const m = /^(https?):\/\/(.*)$/i.exec(h);
    const scheme = m ? m[1]!.toLowerCase() : protocol;
    const rest = (m ? m[2]! : h).replace(/\/.*$/, '');
    const hasPort = /\]:\d+$/.test(rest) || (!rest.startsWith('[') && /^[^:]+:\d+$/.test(rest));
    return `${scheme}://${hasPort ? rest : `${rest}:${DEFAULT_PORT}`}`;
  });
  const secure = hosts.some((h) => h.startsWith('https://'));
  if (secure && hosts.some((h) => h.startsWith('http://'))) {
    throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, 'etcd3: endpoints mix http:// and https://; use one protocol');
  }
  return { hosts, secure };
}

export interface TlsFiles {
  rootCertificate?: Buffer;
  privateKey?: Buffer;
  certChain?: Buffer;
}

/** Read cacert/cert/key; a missing file is a configuration error naming the key. */
export function readTlsFiles(c: Etcd3Config): TlsFiles | undefined {
  if (!c.cacert && !c.cert) return undefined;
  const read = (key: 'cacert' | 'cert' | 'key'): Buffer | undefined => {
    const file = c[key];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, `etcd3.${key}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return { rootCertificate: read('cacert'), certChain: read('cert'), privateKey: read('key') };
}
