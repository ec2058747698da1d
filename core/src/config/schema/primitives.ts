/**
 * Field types shared by the configuration schema. They accept what Patroni's YAML users write:
 * integers given as strings (`ttl: "30"`), booleans as on/off/yes/no strings (environment values),
 * and lists given either as YAML lists or as comma-separated strings.
 */
import { z } from 'zod';
import { parseBool } from '../../util/json.js';

/** An integer; a string holding one (`"30"`, env values) is accepted. */
export const int = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int(),
);

/** A non-negative integer number of seconds or bytes. */
export const count = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\+?\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int().min(0),
);

/** A boolean; Patroni's parse_bool spellings (on/off, yes/no, true/false, 1/0) are accepted. */
export const bool = z.preprocess((v) => (typeof v === 'string' ? (parseBool(v) ?? v) : v), z.boolean());

export const str = z.string();

/** A host:port or similar scalar that YAML may have parsed as a number (`port: 5432`). */
export const scalarString = z.union([z.string(), z.number()]).transform(String);

/** `a,b,c` or `[a, b, c]`: Patroni accepts both for host lists. */
export const stringOrList = z.union([z.string(), z.array(z.string())]);

export const stringList = z.array(z.string());

/** A flat mapping of scalars (postgresql.parameters, recovery_conf, labels...). */
export const scalarMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

export const anyMap = z.record(z.string(), z.unknown());

/** `{username, password}` as restapi/ctl/etcd take it. */
export const basicAuth = z.looseObject({ username: str.optional(), password: scalarString.optional() });

/** A libpq connection role: postgresql.authentication.{superuser,replication,rewind}. */
export const pgRole = z.looseObject({
  username: str.optional(),
  password: scalarString.optional(),
  sslmode: str.optional(),
  sslkey: str.optional(),
  sslpassword: str.optional(),
  sslcert: str.optional(),
  sslrootcert: str.optional(),
  sslcrl: str.optional(),
  sslcrldir: str.optional(),
  gssencmode: str.optional(),
  channel_binding: str.optional(),
  sslnegotiation: str.optional(),
});

/**
 * Option lists as initdb/basebackup take them: either `{key: value}` or a list mixing bare flags
 * (`data-checksums`) and one-key mappings (`{encoding: UTF8}`).
 */
export const toolOptions = z.union([
  anyMap,
  z.array(z.union([z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))])),
]);
