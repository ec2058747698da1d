import { describe, expect, it } from 'vitest';
import { manifestProblems, PluginHost, validateWith } from '@pgha/core';
import plugin, { consulConfigSchema, resolveEndpoint, serviceNameFromScope, unknownKeys } from './index.js';

const parse = (section: unknown) => consulConfigSchema.parse(section);

describe('consul config section', () => {
  it('resolves url, host[:port] with port overriding, and the default, as Patroni does', () => {
    expect(resolveEndpoint(parse({}))).toEqual({ host: '127.0.0.1', port: 8500, secure: false });
    expect(resolveEndpoint(parse({ host: 'c1:8501' }))).toEqual({ host: 'c1', port: 8501, secure: false });
    expect(resolveEndpoint(parse({ host: 'c1:8501', port: 9000 }))).toEqual({ host: 'c1', port: 9000, secure: false });
    expect(resolveEndpoint(parse({ host: 'c1', scheme: 'https' }))).toEqual({ host: 'c1', port: 8500, secure: true });
    expect(resolveEndpoint(parse({ url: 'https://consul.example:8443', host: 'ignored:1' }))).toEqual({ host: 'consul.example', port: 8443, secure: true });
    expect(resolveEndpoint(parse({ host: '[::1]:8502' }))).toEqual({ host: '::1', port: 8502, secure: false });
  });

  it('coerces YAML scalars and env strings (port, verify, register_service, lists)', () => {
    const c = parse({ port: '8500', verify: 'false', register_service: 'true', service_tags: 'a, b', checks: [], token: 1234 });
    expect(c).toMatchObject({ port: 8500, verify: false, register_service: true, service_tags: ['a', 'b'], checks: [], token: '1234' });
  });

  it('names the offending key path in errors', async () => {
    const check = async (section: unknown) => {
      const r = await validateWith(consulConfigSchema, section, 'consul');
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    expect(await check({ port: 70000 })).toEqual(['consul.port']);
    expect(await check({ scheme: 'ftp' })).toEqual(['consul.scheme']);
    expect(await check({ consistency: 'strong' })).toEqual(['consul.consistency']);
    expect(await check({ key: '/k.pem' })).toEqual(['consul.cert']);
    expect(await check({ url: 'unix:///sock' })).toEqual(['consul.url']);
    expect(await check({ service_check_interval: 'often' })).toEqual(['consul.service_check_interval']);
    expect(await check({ key_password: 'x', cert: '/c', key: '/k' })).toEqual(['consul.key_password']);
  });

  it('reports keys it does not act on by name', () => {
    expect(unknownKeys({ host: 'h', token: 't', register_service: true, sessoin_ttl: 5, foo: 1 })).toEqual(['consul.sessoin_ttl', 'consul.foo']);
  });

  it('logs the unused keys by name when the plugin creates a driver', async () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), info: () => undefined, error: () => undefined, debug: () => undefined };
    const ctx = { name: 'n1', scope: 's', namespace: '/service', basePath: '/service/s', ttl: 30, loopWait: 10, retryTimeout: 10, ctl: true, services: { logger } };
    const d = await plugin.create(ctx as never, parse({ host: '127.0.0.1:1', sessoin_ttl: 5 }));
    await d.close();
    expect(warnings).toEqual(["configuration keys not used by pgha's consul plugin: consul.sessoin_ttl"]);
    const d2 = await plugin.create(ctx as never, parse({ host: '127.0.0.1:1', checks: ['serfHealth'] }));
    await d2.close();
    expect(warnings[1]).toMatch(/^consul\.checks: Consul invalidates a session the moment one of its checks fails/);
  });

  it('derives a DNS-safe service name from the scope like Patroni', () => {
    expect(serviceNameFromScope('Demo_Cluster.1')).toBe('demo-cluster-1');
    expect(serviceNameFromScope('a+b')).toBe('au0043b');
  });
});

describe('consul plugin manifest', () => {
  it('is a valid DCS manifest the plugin host finds as the consul section', async () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect([plugin.kind, plugin.name, plugin.configKey]).toEqual(['dcs', 'consul', 'consul']);
    const host = new PluginHost({ config: { consul: { host: '127.0.0.1:8500' } } });
    const ref = await host.find('dcs', 'consul');
    expect(ref).toMatchObject({ source: '@pgha/dcs-consul', installed: true, configKey: 'consul' });
    const loaded = await host.load(ref!);
    expect(loaded.name).toBe('consul');
    await expect(host.validateSection(loaded, { port: 'x' }, 'consul')).rejects.toThrow(/consul\.port/);
    expect(await host.checkDcs()).toMatchObject({ selected: 'consul', error: null });
  });
});
