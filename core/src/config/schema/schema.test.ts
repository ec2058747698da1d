import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { loadConfig, readConfig } from '../index.js';
import { validateConfig } from './index.js';

const examples = join(fileURLToPath(import.meta.url), '../../../../../examples');

const agent = {
  name: 'n1', scope: 's', restapi: { listen: '127.0.0.1:8008' }, etcd3: { hosts: '127.0.0.1:2379' },
  postgresql: { listen: '127.0.0.1:5432', data_dir: '/d' },
};

function issues(raw: unknown, mode: 'agent' | 'ctl' = 'agent'): string[] {
  const r = validateConfig(raw, mode);
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('configuration schema', () => {
  it('validates the full Patroni example unchanged, with no warnings about misplaced keys', () => {
    const loaded = loadConfig({ path: join(examples, 'patroni-full.yml'), env: {} });
    expect(loaded.config.postgresql?.authentication?.superuser?.username).toBe('postgres');
    expect(loaded.config.watchdog?.mode).toBe('automatic');
    expect(loaded.config.bootstrap?.dcs?.slots).toHaveProperty('permanent_logical_1');
    // The keys pgha does not act on are one warning of their own (asserted exactly in config/unimplemented.test.ts).
    expect(loaded.warnings.filter((w) => !w.startsWith('bootstrap.dcs.postgresql') && !w.includes('dynamic') && !w.includes('does not act on'))).toEqual([]);
  });

  it('validates the 3-node etcd3 examples', () => {
    for (const n of [1, 2, 3]) {
      const { config } = loadConfig({ path: join(examples, 'etcd3', `node${n}.yml`), env: {} });
      expect(config.name).toBe(`node${n}`);
      expect(config.restapi?.listen).toBe(`127.0.0.1:${8007 + n}`);
      expect(config.postgresql?.listen).toBe(`127.0.0.1:${5431 + n}`);
    }
  });

  it('rejects the broken example naming every key path', () => {
    let err: unknown;
    try {
      loadConfig({ path: join(examples, 'broken.yml'), env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining([
      'restapi.verify_client', 'restapi.request_queue_size', 'etcd3.protocol', 'bootstrap.dcs.ttl',
      'bootstrap.dcs.synchronous_mode', 'postgresql.data_dir', 'postgresql.authentication.replication.username',
      'postgresql.use_pg_rewind', 'postgresql.pg_hba', 'watchdog.mode', 'tags.failover_priority',
    ]));
  });

  it('names the key path and the expected type of a wrong value', () => {
    expect(issues({ ...agent, postgresql: { ...agent.postgresql, authentication: { replication: { username: 5 } } } }))
      .toEqual(['postgresql.authentication.replication.username: expected string']);
    expect(issues({ ...agent, ttl: 'thirty' })).toEqual(['ttl: expected number']);
    expect(issues({ ...agent, synchronous_mode: 'sometimes' })).toEqual(['synchronous_mode: expected boolean or "quorum"']);
    expect(issues({ ...agent, etcd3: { hosts: 5 } })).toEqual(['etcd3.hosts: expected string or list']);
    expect(issues({ ...agent, restapi: { listen: ':8008', verify_client: 'x' } }))
      .toEqual(['restapi.verify_client: expected one of "none", "optional", "required"']);
    expect(issues({ ...agent, postgresql: { ...agent.postgresql, pgbackrest: { keep_data: 'maybe' }, create_replica_methods: ['pgbackrest'] } }))
      .toEqual(['postgresql.pgbackrest.keep_data: expected boolean']);
  });

  it('requires the agent keys, but less for a ctl-only config', () => {
    expect(issues({})).toEqual(['name: required', 'scope: required', 'postgresql.data_dir: required', 'postgresql.listen: required', 'restapi.listen: required']);
    expect(issues({ etcd3: { hosts: '127.0.0.1:2379' } }, 'ctl')).toEqual([]);
  });

  it('coerces what YAML users write: integers as strings, on/off booleans, watchdog spellings', () => {
    const r = validateConfig({
      ...agent, ttl: '30', loop_wait: 10, synchronous_mode: 'quorum', tags: { nofailover: 'off', failover_priority: '2' },
      watchdog: { mode: false }, postgresql: { ...agent.postgresql, use_pg_rewind: 'on', pg_ctl_timeout: '60' },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.ttl).toBe(30);
    expect(r.config.synchronous_mode).toBe('quorum');
    expect(r.config.tags).toMatchObject({ nofailover: false, failover_priority: 2 });
    expect(r.config.watchdog?.mode).toBe('off');
    expect(r.config.postgresql?.use_pg_rewind).toBe(true);
    expect(validateConfig({ ...agent, watchdog: { mode: 'require' } })).toMatchObject({ ok: true, config: { watchdog: { mode: 'required' } } });
  });

  it('keeps unknown keys and custom sections', () => {
    const r = validateConfig({ ...agent, my_section: { a: 1 }, tags: { datacenter: 'dc1' } });
    expect(r).toMatchObject({ ok: true, config: { my_section: { a: 1 }, tags: { datacenter: 'dc1' } } });
  });

  it('warns about settings Patroni silently ignores', () => {
    const w = readConfig({ env: { PATRONI_CONFIGURATION: 'ttl: 60\npostgresql: {parameters: {max_connections: 500}}\nwatchdog: {mode: on}\n' } }).warnings;
    expect(w.some((x) => x.startsWith('ttl: a dynamic (cluster-wide) setting'))).toBe(true);
    expect(w.some((x) => x.startsWith('postgresql.parameters.max_connections: taken from the dynamic configuration only'))).toBe(true);
    expect(w.some((x) => x.startsWith('watchdog.mode: true is not a watchdog mode'))).toBe(true);
    expect(w.some((x) => x.startsWith('no DCS section found'))).toBe(true);
  });
});
