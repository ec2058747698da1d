/**
 * The `zookeeper:` section, as Patroni reads it. Validation errors carry key paths
 * (`zookeeper.hosts.1`), which the plugin host prefixes.
 *
 * What pgha cannot honour is refused by name rather than accepted and ignored: node-zookeeper-client
 * speaks plain TCP only, so TLS (`use_ssl: true` and its certificate keys) and the x509 ACLs of
 * `set_acls` (which only match TLS client certificates) are configuration errors.
 */
import { z } from 'zod';

const endpoint = z.string().trim().min(1, 'must not be empty');

/** `hosts` is a YAML list or a comma-separated string, as in Patroni (kazoo joins the list with commas). */
const hostList = z.union([
  z.array(z.union([endpoint, z.number().transform(String)])),
  z.string().transform((s) => s.split(',').map((h) => h.trim()).filter(Boolean)),
]);

const flag = z.union([z.boolean(), z.enum(['true', 'false', 'on', 'off', 'yes', 'no', '1', '0'])])
  .transform((v) => v === true || ['true', 'on', 'yes', '1'].includes(String(v)));

/** kazoo's auth_data: a list of [scheme, credential] pairs; a mapping scheme -> credential is accepted too. */
const authData = z.union([
  z.array(z.union([
    z.tuple([z.string().min(1), z.union([z.string(), z.number()]).transform(String)]),
    z.object({ scheme: z.string().min(1), credential: z.union([z.string(), z.number()]).transform(String) })
      .transform((o) => [o.scheme, o.credential] as [string, string]),
  ])),
  z.record(z.string().min(1), z.union([z.string(), z.number()]).transform(String))
    .transform((r) => Object.entries(r) as Array<[string, string]>),
]);

/** Seconds (Patroni style); a bare number in YAML or a numeric string from PATRONI_ZOOKEEPER_* env. */
const seconds = z.union([z.number(), z.string().trim().regex(/^\d+(\.\d+)?$/).transform(Number)])
  .pipe(z.number().positive('must be a positive number of seconds'));

const TLS_KEYS = ['cacert', 'cert', 'key', 'key_password', 'verify'] as const;

export const zookeeperConfigSchema = z.looseObject({
  hosts: hostList.optional(),
  use_ssl: flag.optional(),
  auth_data: authData.optional(),
  connect_timeout: seconds.optional(),
}).superRefine((c, ctx) => {
  const raw: Record<string, unknown> = c;
  if (c.use_ssl) {
    ctx.addIssue({ code: 'custom', path: ['use_ssl'], message: 'TLS is not supported by the zookeeper plugin (node-zookeeper-client speaks plain TCP); use a TLS tunnel or set use_ssl: false' });
  }
  for (const k of TLS_KEYS) {
    if (raw[k] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [k], message: 'TLS options are not supported by the zookeeper plugin (no TLS client); remove the key' });
    }
  }
  if (raw.set_acls !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['set_acls'], message: 'x509 ACLs need TLS client certificates, which the zookeeper plugin cannot present; remove set_acls' });
  }
  const known = new Set(['hosts', 'use_ssl', 'auth_data', 'connect_timeout', 'set_acls', ...TLS_KEYS]);
  for (const k of Object.keys(raw)) {
    if (!known.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'unknown key in the zookeeper section' });
  }
  (c.hosts ?? []).forEach((h, i) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) {
      ctx.addIssue({ code: 'custom', path: ['hosts', i], message: `write host:port without a scheme (got ${h})` });
    } else if (!/^(\[[^\]]+\]|[^:/]+)(:\d+)?(\/.*)?$/.test(h)) {
      ctx.addIssue({ code: 'custom', path: ['hosts', i], message: `not a host[:port] (got ${h})` });
    }
  });
});

export type ZookeeperConfig = z.output<typeof zookeeperConfigSchema>;

const DEFAULT_PORT = 2181;

/**
 * The connection string node-zookeeper-client takes: `h1:2181,h2:2181[/chroot]`. Ports default to
 * 2181; a chroot may only be written on one host (kazoo's form: on the last one) and applies to all.
 */
export function connectionString(c: ZookeeperConfig): string {
  const hosts = c.hosts?.length ? c.hosts : [`127.0.0.1:${DEFAULT_PORT}`];
  let chroot = '';
  const parts = hosts.map((h) => {
    const m = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/.exec(h);
    if (!m) return h;
    if (m[3] && m[3] !== '/') chroot = m[3];
    return `${m[1]}:${m[2] ?? DEFAULT_PORT}`;
  });
  return parts.join(',') + chroot;
}
