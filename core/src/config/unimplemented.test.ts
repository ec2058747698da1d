import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { effectiveConfig, loadConfigPath, readConfig } from './index.js';
import { unimplementedDynamicKeys, unimplementedKeys, unimplementedWarning } from './unimplemented.js';

const full = join(fileURLToPath(import.meta.url), '../../../../examples/patroni-full.yml');

describe('nothing accepted silently', () => {
  it('names exactly the keys of the complete Patroni 4.1 example pgha does not act on', () => {
    expect(unimplementedKeys(loadConfigPath(full))).toEqual(['citus']);
  });

  it('reports them in one warning with the rest of the load warnings', () => {
    const r = readConfig({ path: full, env: {} });
    const w = r.warnings.filter((x) => x.includes('does not act on'));
    expect(w).toEqual([`${full}: pgha does not act on these keys (yet); they are ignored: citus`]);
  });

  it('is value-aware: a key is reported only when its value asks for what pgha does not do', () => {
    const off = { bootstrap: { dcs: { synchronous_mode: false, primary_stop_timeout: 30, failsafe_mode: false, standby_cluster: { host: '' } } } };
    expect(unimplementedKeys(off)).toEqual([]);
    // Synchronous and quorum replication (with primary_stop_timeout), failsafe mode and standby clusters are implemented.
    const on = { bootstrap: { dcs: { synchronous_mode: 'quorum', synchronous_mode_strict: true, synchronous_node_count: 2, maximum_lag_on_syncnode: 5, primary_stop_timeout: 30, master_stop_timeout: 30, failsafe_mode: true, standby_cluster: { host: 'h', port: 5432 } } } };
    expect(unimplementedKeys(on)).toEqual([]);
    expect(unimplementedKeys({ bootstrap: { dcs: { primary_stop_timeout: 30 } }, watchdog: { driver: 'default' } })).toEqual([]);
    expect(unimplementedKeys({ watchdog: { driver: 'testing' } })).toEqual(['watchdog.driver']);
    expect(unimplementedKeys({ postgresql: { use_unix_socket_repl: false } })).toEqual([]);
    expect(unimplementedKeys({ postgresql: { use_unix_socket_repl: true } })).toEqual(['postgresql.use_unix_socket_repl']);
  });

  it('names unknown keys (typos) by path, but not custom method sections, DCS plugin sections or custom tags', () => {
    const raw = {
      postgressql: {}, log: { levle: 'INFO' }, restapi: { listen: ':8008', conect_address: 'x' }, watchdog: { mod: 'off' },
      postgresql: { create_replica_methods: ['wal_g'], wal_g: { command: 'x' }, my_restore: { command: 'y' }, foo: 1, callbacks: { on_promote: 'x' } },
      bootstrap: { method: 'restore', restore: { command: 'z' }, other: { command: 'w' }, dsc: {}, dcs: { tll: 30, postgresql: { paramters: {} } } },
      mydcs: { hosts: 'x' }, tags: { datacenter: 'a' },
    };
    expect(unimplementedKeys(raw, { dcsNames: ['mydcs'] })).toEqual([
      'postgressql (unknown key)', 'log.levle (unknown key)', 'restapi.conect_address (unknown key)', 'watchdog.mod (unknown key)',
      'postgresql.foo (unknown key)', 'postgresql.callbacks.on_promote (unknown key)', 'bootstrap.dsc (unknown key)',
      'bootstrap.dcs.tll (unknown key)', 'bootstrap.dcs.postgresql.paramters (unknown key)',
    ]);
  });

  it('a top-level section may belong to a configured plugin: reported with that caveat', () => {
    expect(unimplementedKeys({ plugins: ['pgha-plugin-x'], xdcs: { hosts: 'h' } })).toEqual(['xdcs (unknown key, unless a plugin reads it)']);
    expect(unimplementedKeys({ plugins: [], xdcs: {} })).toEqual(['xdcs (unknown key)']);
  });

  it('reports what /config asks for when the dynamic configuration comes from the DCS', () => {
    expect(unimplementedDynamicKeys({ synchronous_mode: true, primary_stop_timeout: 5, failsafe_mode: true, ttl: 30, tll: 30 }, '')).toEqual(['tll (unknown key)']);
    const eff = effectiveConfig({ name: 'n', scope: 's' }, { synchronous_mode: true, primary_stop_timeout: 5, ttl: 30, loop_wiat: 2 });
    expect(eff.warnings).toContain('/config: pgha does not act on these keys (yet); they are ignored: loop_wiat (unknown key)');
    expect(effectiveConfig({ name: 'n', scope: 's', bootstrap: { dcs: { synchronous_mode: true, primary_stop_timeout: 5 } } }, null).warnings.join()).not.toContain('does not act on');
    expect(unimplementedWarning([])).toBeNull();
  });
});
