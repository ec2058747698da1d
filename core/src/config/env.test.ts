import { describe, expect, it } from 'vitest';
import { envOverlay } from './env.js';
import { loadConfig } from './index.js';

describe('PATRONI_* environment overlay', () => {
  it('maps global, section, auth and binary variables', () => {
    const { config, consumed } = envOverlay({
      PATRONI_NAME: 'node1',
      PATRONI_SCOPE: 'demo',
      PATRONI_NAMESPACE: '/svc',
      PATRONI_RESTAPI_LISTEN: '0.0.0.0:8008',
      PATRONI_RESTAPI_USERNAME: 'admin',
      PATRONI_RESTAPI_PASSWORD: 'secret',
      PATRONI_RESTAPI_REQUEST_QUEUE_SIZE: '7',
      PATRONI_CTL_INSECURE: 'yes',
      PATRONI_POSTGRESQL_DATA_DIR: '/data',
      PATRONI_POSTGRESQL_BIN_PG_CTL: '/opt/pg/pg_ctl',
      PATRONI_REPLICATION_USERNAME: 'replicator',
      PATRONI_REPLICATION_SSLMODE: 'require',
      PATRONI_SUPERUSER_PASSWORD: 'su',
      PATRONI_LOG_LEVEL: 'DEBUG',
      HOME: '/root',
    });
    expect(config).toEqual({
      name: 'node1', scope: 'demo', namespace: '/svc',
      restapi: { listen: '0.0.0.0:8008', request_queue_size: 7, authentication: { username: 'admin', password: 'secret' } },
      ctl: { insecure: true },
      postgresql: {
        data_dir: '/data', bin_name: { pg_ctl: '/opt/pg/pg_ctl' },
        authentication: { replication: { username: 'replicator', sslmode: 'require' }, superuser: { password: 'su' } },
      },
      log: { level: 'DEBUG' },
    });
    expect(consumed).toContain('PATRONI_SUPERUSER_PASSWORD');
    expect(consumed).not.toContain('HOME');
  });

  it('parses list values given as comma strings or YAML lists, and dict values as YAML mappings', () => {
    const { config } = envOverlay({
      PATRONI_ETCD3_HOSTS: '10.0.0.1:2379,10.0.0.2:2379',
      PATRONI_RAFT_PARTNER_ADDRS: "['127.0.0.1:2223', '127.0.0.1:2224']",
      PATRONI_RESTAPI_ALLOWLIST: '- 10.0.0.0/8\n- 127.0.0.1',
      PATRONI_KUBERNETES_LABELS: '{application: patroni, env: prod}',
      PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: 'X-Frame-Options: SAMEORIGIN',
      PATRONI_LOG_STATIC_FIELDS: '{app: pgha}',
      PATRONI_CONSUL_PORT: '8500',
      PATRONI_CONSUL_REGISTER_SERVICE: 'on',
      PATRONI_CONSUL_SERVICE_TAGS: 'a,b',
      PATRONI_KUBERNETES_USE_ENDPOINTS: 'true',
      PATRONI_ZOOKEEPER_SET_ACLS: '{CN=principal: [ALL]}',
      PATRONI_CITUS_GROUP: '1',
      PATRONI_CITUS_DATABASE: 'citus',
    });
    expect(config.etcd3).toEqual({ hosts: ['10.0.0.1:2379', '10.0.0.2:2379'] });
    expect(config.raft).toEqual({ partner_addrs: ['127.0.0.1:2223', '127.0.0.1:2224'] });
    expect(config.restapi).toEqual({ allowlist: ['10.0.0.0/8', '127.0.0.1'], http_extra_headers: { 'X-Frame-Options': 'SAMEORIGIN' } });
    expect(config.kubernetes).toEqual({ labels: { application: 'patroni', env: 'prod' }, use_endpoints: true });
    expect(config.log).toEqual({ static_fields: { app: 'pgha' } });
    expect(config.consul).toEqual({ port: 8500, register_service: true, service_tags: ['a', 'b'] });
    expect(config.zookeeper).toEqual({ set_acls: { 'CN=principal': ['ALL'] } });
    expect(config.citus).toEqual({ group: 1, database: 'citus' });
  });

  it('accepts PGHA_* aliases; PGHA_ wins when both are set, and both are consumed', () => {
    const { config, consumed } = envOverlay({
      PATRONI_NAME: 'patroni-name',
      PGHA_NAME: 'pgha-name',
      PGHA_SCOPE: 'only-pgha',
      PGHA_ETCD3_HOSTS: '127.0.0.1:2379',
      PGHA_REWIND_USERNAME: 'rewinder',
    });
    expect(config.name).toBe('pgha-name');
    expect(config.scope).toBe('only-pgha');
    expect(config.etcd3).toEqual({ hosts: ['127.0.0.1:2379'] });
    expect(config.postgresql).toEqual({ authentication: { rewind: { username: 'rewinder' } } });
    expect(consumed).toEqual(expect.arrayContaining(['PATRONI_NAME', 'PGHA_NAME']));
  });

  it('maps the old log variable names only when the new ones are unset', () => {
    expect(envOverlay({ PATRONI_LOGLEVEL: 'DEBUG' }).config.log).toEqual({ level: 'DEBUG' });
    expect(envOverlay({ PATRONI_LOGLEVEL: 'DEBUG', PATRONI_LOG_LEVEL: 'ERROR' }).config.log).toEqual({ level: 'ERROR' });
  });

  it('ETCD(3)_USERNAME/PASSWORD go to the DCS section; other <USER>_PASSWORD go to bootstrap.users', () => {
    const { config } = envOverlay({
      PATRONI_ETCD3_USERNAME: 'root', PATRONI_ETCD3_PASSWORD: 'pw',
      PATRONI_admin_PASSWORD: 'adm', PATRONI_admin_OPTIONS: 'createrole,createdb',
    });
    expect(config.etcd3).toEqual({ username: 'root', password: 'pw' });
    expect(config.bootstrap).toEqual({ users: { admin: { password: 'adm', options: ['createrole', 'createdb'] } } });
  });

  it('ignores empty values and unknown names', () => {
    expect(envOverlay({ PATRONI_NAME: '', PATRONI_FOO_BAR: 'x', PATRONI_WHATEVER_HOSTS: 'h' }).config).toEqual({});
    expect(envOverlay({ PATRONI_MYDCS_HOSTS: 'h1' }, { dcsNames: ['mydcs'] }).config).toEqual({ mydcs: { hosts: ['h1'] } });
  });

  it('environment wins over the YAML file', () => {
    const loaded = loadConfig({
      env: {
        PATRONI_CONFIGURATION: 'name: yaml\nscope: s\nrestapi: {listen: ":8008"}\npostgresql: {listen: ":5432", data_dir: /d}\n',
        PATRONI_NAME: 'from-env',
        PATRONI_POSTGRESQL_DATA_DIR: '/env/data',
      },
    });
    expect(loaded.config.name).toBe('from-env');
    expect(loaded.config.postgresql?.data_dir).toBe('/env/data');
    expect(loaded.config.postgresql?.listen).toBe(':5432');
  });
});
