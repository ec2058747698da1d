import { describe, expect, it } from 'vitest';
import { effectiveConfig } from './effective.js';
import { adjustTimings } from './timings.js';

describe('loop_wait + 2*retry_timeout <= ttl', () => {
  it('keeps valid values and applies defaults', () => {
    expect(adjustTimings({})).toEqual({ timings: { ttl: 30, loopWait: 10, retryTimeout: 10 }, warnings: [] });
    expect(adjustTimings({ ttl: 60, loop_wait: 20, retry_timeout: 20 }).warnings).toEqual([]);
  });

  it('reduces loop_wait when that is enough, with Patroni\'s warning', () => {
    expect(adjustTimings({ ttl: 30, loop_wait: 15, retry_timeout: 10 })).toEqual({
      timings: { ttl: 30, loopWait: 10, retryTimeout: 10 },
      warnings: ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=30 and retry_timeout=10. Adjusting loop_wait from 15 to 10'],
    });
  });

  it('sets loop_wait=1 and retry_timeout=(ttl-1)//2 when even loop_wait=1 violates the rule', () => {
    expect(adjustTimings({ ttl: 20, loop_wait: 10, retry_timeout: 15 })).toEqual({
      timings: { ttl: 20, loopWait: 1, retryTimeout: 9 },
      warnings: ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=20. Adjusting loop_wait from 10 to 1 and retry_timeout from 15 to 9'],
    });
  });

  it('raises values below their minimums first', () => {
    const r = adjustTimings({ ttl: 5, loop_wait: 0, retry_timeout: '2' });
    expect(r.timings).toEqual({ ttl: 20, loopWait: 1, retryTimeout: 3 });
    expect(r.warnings).toEqual([
      "loop_wait=0 can't be smaller than 1, adjusting...",
      "retry_timeout=2 can't be smaller than 3, adjusting...",
      "ttl=5 can't be smaller than 20, adjusting...",
    ]);
  });
});

const local = {
  name: 'n1', scope: 'demo', ttl: 99, maximum_lag_on_failover: 5,
  restapi: { listen: ':8008' },
  bootstrap: { dcs: { ttl: 40, loop_wait: 5, retry_timeout: 10, maximum_lag_on_failover: 100, postgresql: { parameters: { max_connections: 200 } } } },
  postgresql: {
    listen: ':5432', data_dir: '/d', use_slots: false, use_pg_rewind: false, pg_hba: ['local all all trust'],
    parameters: { max_connections: 500, work_mem: '4MB', Shared_Buffers: '1GB' },
  },
};

describe('effectiveConfig precedence', () => {
  it('without /config, bootstrap.dcs is the dynamic configuration; local top-level dynamic keys are ignored', () => {
    const e = effectiveConfig(local, null);
    expect(e.dynamicSource).toBe('bootstrap');
    expect(e.timings).toEqual({ ttl: 40, loopWait: 5, retryTimeout: 10 });
    expect(e.cluster.maximumLagOnFailover).toBe(100);
    expect(e.config.ttl).toBe(40);
    expect(e.config.postgresql?.parameters).toMatchObject({ max_connections: 200, work_mem: '4MB' });
  });

  it('once /config exists it wins for ttl/loop_wait/retry_timeout/standby_cluster and the other cluster-wide keys', () => {
    const dcs = { ttl: 50, loop_wait: 10, retry_timeout: 10, pause: true, synchronous_mode: 'quorum', standby_cluster: { host: 'remote', port: 5432, junk: 1 } };
    const e = effectiveConfig(local, dcs);
    expect(e.dynamicSource).toBe('dcs');
    expect(e.timings).toEqual({ ttl: 50, loopWait: 10, retryTimeout: 10 });
    expect(e.cluster).toMatchObject({ pause: true, synchronousMode: 'quorum', maximumLagOnFailover: 1048576, primaryStartTimeout: 300 });
    expect(e.cluster.standbyCluster).toEqual({ host: 'remote', port: '5432', junk: 1 });
    expect(e.config.standby_cluster).toEqual({ host: 'remote', port: '5432' });
  });

  it('postgresql: local overrides dynamic except use_slots and CMDLINE GUCs; dynamic may not set local-only keys', () => {
    const dcs = {
      postgresql: {
        use_slots: true, use_pg_rewind: true, pg_hba: ['host all all 0.0.0.0/0 md5'], listen: '0.0.0.0:1', data_dir: '/evil',
        authentication: { superuser: { username: 'x' } },
        parameters: { max_connections: 300, max_wal_senders: 2, work_mem: '1MB', shared_buffers: '256MB', port: 1 },
      },
    };
    const e = effectiveConfig(local, dcs);
    const pg = e.config.postgresql!;
    expect(pg.use_slots).toBe(true);
    expect(pg.use_pg_rewind).toBe(false);
    expect(pg.pg_hba).toEqual(['local all all trust']);
    expect(pg.listen).toBe(':5432');
    expect(pg.data_dir).toBe('/d');
    expect(pg.authentication).toEqual({});
    expect(pg.parameters).toEqual({
      max_connections: 300, max_wal_senders: 10, work_mem: '4MB', Shared_Buffers: '1GB',
      wal_level: 'hot_standby', hot_standby: 'on', max_prepared_transactions: 0, max_locks_per_transaction: 64,
      track_commit_timestamp: 'off', max_replication_slots: 10, max_worker_processes: 8, wal_log_hints: 'on',
    });
    expect(e.warnings).toContain('postgresql parameter max_wal_senders=2 failed validation, defaulting to 10');
    expect(e.cluster.useSlots).toBe(true);
  });

  it('defaults when there is neither /config nor bootstrap.dcs', () => {
    const e = effectiveConfig({ name: 'n', postgresql: { data_dir: '/d' } }, null);
    expect(e.dynamicSource).toBe('none');
    expect(e.cluster).toMatchObject({
      ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576, maximumLagOnSyncnode: -1, primaryStartTimeout: 300,
      synchronousMode: false, failsafeMode: false, checkTimeline: false, pause: false, standbyCluster: null, useSlots: true, memberSlotsTtl: 1800,
    });
    expect(e.config.postgresql?.parameters).toMatchObject({ max_connections: 100, wal_level: 'hot_standby' });
  });

  it('adjusts dynamic timings and reports the warning; ignores invalid dynamic keys with a warning', () => {
    const e = effectiveConfig(local, { ttl: 20, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 'lots' });
    expect(e.timings).toEqual({ ttl: 20, loopWait: 1, retryTimeout: 9 });
    expect(e.dynamic).toMatchObject({ loop_wait: 1, retry_timeout: 9 });
    expect(e.warnings.some((w) => w.startsWith('Violated the rule'))).toBe(true);
    expect(e.warnings).toContain('dynamic configuration: maximum_lag_on_failover: expected number (ignored)');
    expect(e.cluster.maximumLagOnFailover).toBe(1048576);
  });

  it('accepts master_start_timeout as the legacy name of primary_start_timeout', () => {
    expect(effectiveConfig({}, { master_start_timeout: 60 }).cluster.primaryStartTimeout).toBe(60);
  });
});
