/**
 * The `consul:` section, as Patroni reads it, and its translation into client settings.
 * Validation errors carry key paths (`consul.port`), which the plugin host prefixes.
 */
import { readFileSync } from 'node:fs';
import { ErrorCodes, PghaError } from '@pgha/core';
import { z } from 'zod';

const scalarString = z.union([z.string(), z.number()]).transform((v) => String(v));
const boolish = z.union([z.boolean(), z.enum(['true', 'false', 'on', 'off', 'yes', 'no', '1', '0', 'True', 'False'])])
  .transform((v) => (typeof v === 'boolean' ? v : ['true', 'on', 'yes', '1', 'True'].includes(v)));
const stringList = z.union([z.array(scalarString), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))]);

/** Every key Patroni's `consul:` section knows; anything else is reported by name (see unknownKeys). */
export const CONSUL_KEYS = [
  'host', 'url', 'port', 'scheme', 'token', 'verify', 'cacert', 'cert', 'key', 'dc', 'consistency', 'checks',
  'register_service', 'service_tags', 'service_check_interval', 'service_check_tls_server_name',
] as const;

export const consulConfigSchema = z.looseObject({
  host: scalarString.optional(),
  url: z.string().trim().optional(),
  port: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(1).max(65535)).optional(),
  scheme: z.enum(['http', 'https']).optional(),
  token: scalarString.optional(),
  verify: boolish.optional(),
  cacert: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  dc: scalarString.optional(),
  consistency: z.enum(['default', 'consistent', 'stale']).optional(),
  checks: stringList.optional(),
  register_service: boolish.optional(),
  service_tags: stringList.optional(),
  service_check_interval: scalarString.refine((s) => /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s), 'must be a duration such as 5s').optional(),
  service_check_tls_server_name: z.string().optional(),
}).superRefine((c, ctx) => {
  if (c.key !== undefined && c.cert === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'required when key is set' });
  if (c.url !== undefined && !/^https?:\/\/[^/]+/i.test(c.url)) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `unsupported url ${c.url} (use http://host:port or https://host:port)` });
  }
  if (c.key_password !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['key_password'], message: 'encrypted client keys are not supported by Consul clients (Patroni neither); decrypt the key file' });
  }
});

export type ConsulConfig = z.output<typeof consulConfigSchema>;

/** Keys of the section pgha does not act on, by name (logged at startup). */
export function unknownKeys(section: Record<string, unknown>): string[] {
  return Object.keys(section).filter((k) => !(CONSUL_KEYS as readonly string[]).includes(k)).map((k) => `consul.${k}`);
}

export interface ConsulEndpoint {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
}

const DEFAULT_PORT = 8500;

/** Patroni's precedence: `url` (scheme, host, port), else `host` as host[:port] with `port` overriding, else 127.0.0.1:8500. */
export function resolveEndpoint(c: ConsulConfig): ConsulEndpoint {
  if (c.url) {
    const u = new URL(c.url);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : DEFAULT_PORT, secure: u.protocol === 'https:' };
  }
  const raw = c.host ?? '127.0.0.1';
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:]+)(?::(\d+))?$/.exec(raw);
  const host = m ? m[1]! : raw;
  const port = c.port ?? (m?.[2] ? Number(m[2]) : DEFAULT_PORT);
  return { host, port, secure: c.scheme === 'https' };
}

export interface TlsSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/** cacert/cert/key files and `verify`; a file that cannot be read is a configuration error naming its key. */
export function readTls(c: ConsulConfig): TlsSettings {
  const read = (k: 'cacert' | 'cert' | 'key'): Buffer | undefined => {
    const file = c[k];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, `consul.${k}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  // Patroni: a combined cert+key file is allowed when `key` is absent.
  const cert = read('cert');
  return { ca: read('cacert'), cert, key: read('key') ?? (c.cert && !c.key ? cert : undefined), rejectUnauthorized: c.verify !== false || !!c.cacert };
}

/** Patroni's service_name_from_scope_name: a DNS-safe service name. */
export function serviceNameFromScope(scope: string): string {
  return scope.toLowerCase().replace(/[^a-z0-9-]/g, (c) => ('. _'.includes(c) ? '-' : `u${String(c.charCodeAt(0)).padStart(4, '0')}`)).slice(0, 230);
}
