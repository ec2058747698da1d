/**
 * RunningConfig: what each cycle derives from the configuration is the same object until an input
 * changes (the HA loop asks every cycle), and a new `/config` or local file reaches the hooks once.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../config/index.js';
import type { AgentSettings } from '../config/agent-settings.js';
import { silentLogger } from '../log.js';
import { Cluster } from '../model/cluster.js';
import { ClusterConfig } from '../model/values.js';
import { RunningConfig } from './running-config.js';

const YAML = `
scope: demo
name: node1
restapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }
etcd3: { hosts: 127.0.0.1:2379 }
postgresql: { data_dir: /tmp/x, listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432, authentication: { superuser: { username: postgres, password: x }, replication: { username: r, password: x } } }
`;
const local = (tags = '{ nofailover: false, clonefrom: true }'): LoadedConfig => loadConfig({ env: { PATRONI_CONFIGURATION: `${YAML}tags: ${tags}\n` } });
const withConfig = (version: number, data: Record<string, unknown>) => new Cluster({ config: new ClusterConfig(version, data, version) });

function running(l = local()) {
  const seen: { effective: number; settings: Array<[AgentSettings, AgentSettings]> } = { effective: 0, settings: [] };
  const cfg = new RunningConfig('node1', l, null, {
    logger: silentLogger,
    onEffective: () => { seen.effective++; },
    onSettings: (prev, next) => { seen.settings.push([prev, next]); },
  });
  return { cfg, seen };
}

describe('RunningConfig', () => {
  it('tags and the decision settings are the same objects from cycle to cycle', () => {
    const { cfg } = running();
    expect(cfg.tags).toBe(cfg.tags);
    expect(cfg.tags.tags.clonefrom).toBe(true);
    const ha = cfg.haSettings(false);
    expect(cfg.haSettings(false)).toBe(ha);
    // The watchdog turning unavailable is an input of the decision settings.
    const unavailable = cfg.haSettings(true);
    expect(unavailable).not.toBe(ha);
    expect(unavailable.watchdogUnavailable).toBe(true);
  });

  it('a new /config reaches the hooks once; the same view again changes nothing', () => {
    const { cfg, seen } = running();
    const first = withConfig(1, { ttl: 40, loop_wait: 5 });
    cfg.apply(first, null);
    expect(cfg.eff.cluster.ttl).toBe(40);
    expect(seen.effective).toBe(1);
    expect(seen.settings).toHaveLength(1);
    const ha = cfg.haSettings(false);
    cfg.apply(first, null);
    cfg.apply(withConfig(1, { ttl: 40, loop_wait: 5 }), null); // rebuilt view, same version
    expect(seen.settings).toHaveLength(1);
    expect(cfg.haSettings(false)).toBe(ha);
    cfg.apply(withConfig(2, { ttl: 50 }), null);
    expect(cfg.eff.cluster.ttl).toBe(50);
    expect(seen.settings).toHaveLength(2);
    expect(cfg.haSettings(false)).not.toBe(ha);
  });

  it('an unreadable DCS keeps the /config last seen, without building anything again', () => {
    const { cfg, seen } = running();
    cfg.apply(withConfig(1, { ttl: 40 }), null);
    const eff = cfg.eff;
    cfg.apply(null, null);
    expect(cfg.eff.cluster.ttl).toBe(40);
    expect(cfg.eff).toBe(eff);
    expect(seen.effective).toBe(1);
    cfg.apply(withConfig(1, { ttl: 40 }), null); // readable again, /config unchanged
    expect(cfg.eff).toBe(eff);
    expect(seen.settings).toHaveLength(1);
  });

  it('a re-read local file is taken in at the next apply, new tags included', () => {
    const { cfg, seen } = running();
    cfg.apply(null, null);
    const tags = cfg.tags;
    cfg.setLocal(local('{ nofailover: true }'));
    expect(seen.settings).toHaveLength(1);
    cfg.apply(null, null);
    expect(seen.settings).toHaveLength(2);
    expect(cfg.tags).not.toBe(tags);
    expect(cfg.tags.nofailover).toBe(true);
  });
});
