/**
 * Broken configuration files for SIGHUP reloads. Each mutation of a node's working YAML is either
 * invalid (the reload must be refused, the agent keep running on the old configuration) or changes
 * only restart-only settings (reported, not applied). `expectRefused` says which.
 */
import { parse, stringify } from 'yaml';
import type { Rng } from './rng.js';

export interface ConfigCase {
  readonly name: string;
  readonly text: string;
  /** The reload must be refused (and `validate-config` must exit 1). */
  readonly expectRefused: boolean;
}

type Doc = Record<string, any>;
type Mutation = readonly [string, boolean, (d: Doc, rng: Rng) => Doc | string];

const set = (path: string, value: unknown) => (d: Doc): Doc => {
  const parts = path.split('.');
  let cur = d;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {});
  cur[parts[parts.length - 1]!] = value;
  return d;
};
const del = (path: string) => (d: Doc): Doc => {
  const parts = path.split('.');
  let cur = d;
  for (const p of parts.slice(0, -1)) cur = cur[p] ?? {};
  delete cur[parts[parts.length - 1]!];
  return d;
};

const MUTATIONS: readonly Mutation[] = [
  ['YAML syntax error', true, () => 'scope: s\nrestapi:\n  listen: [x\n'],
  ['tab indentation', true, (d) => stringify(d).replace(/\n  /g, '\n\t')],
  ['not a mapping', true, () => '- a\n- b\n'],
  ['empty file', true, () => ''],
  ['binary garbage', true, (_d, rng) => Buffer.from(Array.from({ length: 200 }, () => rng.int(0, 255))).toString('latin1')],
  ['alias bomb', true, () => 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'],
  ['deeply nested mapping', true, (d) => `${stringify(d)}fuzz: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`],
  ['restapi.listen port 70000', true, set('restapi.listen', '127.0.0.1:70000')],
  ['restapi.listen port 0', true, set('restapi.listen', '127.0.0.1:0')],
  ['restapi.listen garbage', true, set('restapi.listen', 'not an address')],
  ['restapi.listen a list', true, set('restapi.listen', ['127.0.0.1:8008'])],
  ['restapi.connect_address port 99999', true, set('restapi.connect_address', '127.0.0.1:99999')],
  ['restapi.verify_client bogus', true, set('restapi.verify_client', 'sometimes')],
  ['restapi.authentication a string', true, set('restapi.authentication', 'admin:admin')],
  ['restapi.certfile missing', true, set('restapi.certfile', '/nonexistent/cert.pem')],
  ['postgresql.listen port 70000', true, set('postgresql.listen', '127.0.0.1:70000')],
  ['postgresql.listen without port', true, set('postgresql.listen', '127.0.0.1')],
  ['postgresql.data_dir a number', true, set('postgresql.data_dir', 42.5)],
  ['postgresql.data_dir is a file', true, set('postgresql.data_dir', '/etc/hostname')],
  ['postgresql.bin_dir missing', true, set('postgresql.bin_dir', '/nonexistent/bin')],
  ['postgresql.parameters a list', true, set('postgresql.parameters', ['a', 'b'])],
  ['postgresql.authentication.superuser.username a list', true, set('postgresql.authentication.superuser.username', ['x'])],
  ['postgresql.pg_hba a string', true, set('postgresql.pg_hba', 'host all all 0.0.0.0/0 trust')],
  ['postgresql section a string', true, set('postgresql', 'yes')],
  ['name removed', true, del('name')],
  ['name with a path', true, set('name', 'evil/../../x')],
  ['name with a newline', true, set('name', 'a\nb')],
  ['name is the sync placeholder', true, set('name', '__patroni_strict_sync_replica_placeholder__')],
  ['scope removed', true, del('scope')],
  ['etcd3.hosts port out of range', true, set('etcd3.hosts', '127.0.0.1:99999')],
  ['etcd3.hosts unparseable', true, set('etcd3.hosts', 'http://a b:c:d')],
  ['etcd3.hosts a mapping', true, set('etcd3.hosts', { a: 1 })],
  ['tags.nofailover not a boolean', true, set('tags.nofailover', 'perhaps')],
  ['tags.failover_priority text', true, set('tags.failover_priority', 'high')],
  ['watchdog.mode bogus', true, set('watchdog.mode', 'sometimes')],
  ['log.level bogus', true, set('log.level', 'LOUD')],
  ['bootstrap.dcs.ttl text', true, set('bootstrap.dcs.ttl', 'thirty')],
  ['restapi.request_queue_size negative', true, set('restapi.request_queue_size', -5)],
  ['postgresql.pg_ctl_timeout negative', true, set('postgresql.pg_ctl_timeout', -1)],
  ['restapi.allowlist a number', true, set('restapi.allowlist', 5)],
  // Valid, but only restart-only settings change: reported, the running values stay.
  ['data_dir moved (restart-only)', false, (d) => set('postgresql.data_dir', `${d.postgresql.data_dir}-elsewhere`)(d)],
  ['bin_dir with a trailing slash (restart-only)', false, set('postgresql.bin_dir', '/usr/lib/postgresql/15/bin/')],
  ['postgresql port changed (restart-only)', false, (d) => set('postgresql.listen', String(d.postgresql.listen).replace(/:\d+$/, ':5998'))(d)],
  ['namespace changed (restart-only)', false, set('namespace', '/elsewhere')],
  ['scope changed (restart-only)', false, set('scope', 'another-cluster')],
  ['name changed (restart-only)', false, set('name', 'renamed-node')],
  ['etcd3 hosts changed (restart-only)', false, set('etcd3.hosts', '127.0.0.1:2')],
  ['a custom tag added', false, set('tags.fuzz', 'yes')],
  ['unknown top-level section', false, set('fuzz_section', { a: [1, 2, { b: null }] })],
  ['log level changed', false, set('log.level', 'DEBUG')],
];

/** `count` cases: every mutation once (in a seeded order), then random combinations of two. */
export function configCases(rng: Rng, goodYaml: string, count: number): ConfigCase[] {
  const order = [...MUTATIONS].sort(() => rng.next() - 0.5);
  const out: ConfigCase[] = [];
  for (let i = 0; out.length < count; i++) {
    const m = order[i % order.length]!;
    const doc = parse(goodYaml) as Doc;
    let result = m[2](doc, rng);
    let name = m[0];
    let refused = m[1];
    if (i >= order.length && typeof result !== 'string') {
      const extra = rng.pick(MUTATIONS.filter((x) => x[1]));
      const r2 = extra[2](result, rng);
      result = r2;
      name = `${name} + ${extra[0]}`;
      refused = true;
    }
    out.push({ name, text: typeof result === 'string' ? result : stringify(result), expectRefused: refused });
  }
  return out;
}

export const CONFIG_MUTATION_COUNT = MUTATIONS.length;
