import { describe, expect, it } from 'vitest';
import { configSection } from './section.js';
import { validateConfig, type PghaConfig } from './schema/index.js';

function valid(raw: unknown): PghaConfig {
  const r = validateConfig(raw, 'ctl');
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return r.config;
}

describe('configSection', () => {
  it('returns the section as validation typed it (coerced values, unknown keys kept)', () => {
    const cfg = valid({
      restapi: { listen: '127.0.0.1:8008', request_queue_size: '7', custom_key: 'x' },
      watchdog: { mode: 'off', device: '/dev/wd1' },
      postgresql: { data_dir: '/pg', run_as: 'postgres', callbacks: { on_start: '/bin/true' } },
    });
    const restapi = configSection(cfg, 'restapi');
    expect(restapi.listen).toBe('127.0.0.1:8008');
    expect(restapi.request_queue_size).toBe(7);
    expect(restapi.custom_key).toBe('x');
    expect(configSection(cfg, 'watchdog').device).toBe('/dev/wd1');
    const pg = configSection(cfg, 'postgresql');
    expect(pg.data_dir).toBe('/pg');
    expect(pg.run_as).toBe('postgres');
    expect(pg.callbacks).toEqual({ on_start: '/bin/true' });
  });

  it('returns the same object, not a copy (consumers see what the validated config holds)', () => {
    const cfg = valid({ bootstrap: { method: 'initdb' } });
    expect(configSection(cfg, 'bootstrap')).toBe(cfg.bootstrap);
  });

  it('reads an absent section as {} (Patroni: config.get(section) or {})', () => {
    const cfg = valid({ scope: 'demo' });
    expect(configSection(cfg, 'restapi')).toEqual({});
    expect(configSection(cfg, 'bootstrap')).toEqual({});
    expect(configSection(cfg, 'postgresql').callbacks).toBeUndefined();
  });

  it('reads a null section (an empty YAML key) as {}', () => {
    const cfg = { scope: 'demo', tags: null } as unknown as PghaConfig;
    expect(configSection(cfg, 'tags')).toEqual({});
  });

  it('reads DCS sections by name', () => {
    const cfg = valid({ etcd3: { hosts: ['127.0.0.1:2379'] } });
    expect(configSection(cfg, 'etcd3').hosts).toEqual(['127.0.0.1:2379']);
    expect(configSection(cfg, 'consul')).toEqual({});
  });
});
