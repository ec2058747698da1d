import { describe, expect, it } from 'vitest';
import { manifestProblems, PluginHost, validateWith } from '@pgha/core';
import plugin, { etcd3ConfigSchema, resolveEndpoints } from './index.js';

const parse = (section: unknown) => etcd3ConfigSchema.parse(section);

describe('etcd3 config section', () => {
  it('takes hosts as a list or a comma string, host, url, or the default', () => {
    expect(resolveEndpoints(parse({ hosts: ['10.0.0.1:2379', '10.0.0.2'] })).hosts).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    expect(resolveEndpoints(parse({ hosts: '10.0.0.1:2379, 10.0.0.2:2380' })).hosts).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:2380']);
    expect(resolveEndpoints(parse({ host: '127.0.0.1:2479' })).hosts).toEqual(['http://127.0.0.1:2479']);
    expect(resolveEndpoints(parse({ url: 'https://etcd.example:2379/', hosts: 'x:1' })).hosts).toEqual(['https://etcd.example:2379']);
    expect(resolveEndpoints(parse({})).hosts).toEqual(['http://127.0.0.1:2379']);
    expect(resolveEndpoints(parse({ hosts: ['[::1]:2379', '[::1]'] })).hosts).toEqual(['http://[::1]:2379', 'http://[::1]:2379']);
  });

  it('uses https with protocol: https or client certificates', () => {
    expect(resolveEndpoints(parse({ host: 'h:2379', protocol: 'https' }))).toEqual({ hosts: ['https://h:2379'], secure: true });
    expect(resolveEndpoints(parse({ host: 'h', cacert: '/ca.pem' })).secure).toBe(true);
    expect(() => resolveEndpoints(parse({ hosts: ['https://a:1', 'http://b:1'] }))).toThrow(/mix http/);
  });

  it('coerces unquoted YAML scalars to strings', () => {
    expect(parse({ username: 'u', password: 1234 }).password).toBe('1234');
  });

  it('names the offending key path in errors', async () => {
    const check = async (section: unknown) => {
      const r = await validateWith(etcd3ConfigSchema, section, 'etcd3');
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    expect(await check({ hosts: ['a:1', ''] })).toEqual(['etcd3.hosts.1']);
    expect(await check({ username: 'u' })).toEqual(['etcd3.password']);
    expect(await check({ protocol: 'ftp' })).toEqual(['etcd3.protocol']);
    expect(await check({ srv: 'example.com' })).toEqual(['etcd3.srv']);
    expect(await check({ cert: '/c.pem' })).toEqual(['etcd3.key']);
    expect(await check({ hosts: ['unix://sock'] })).toEqual(['etcd3.hosts.0']);
    expect(await check({ host: 'h', use_proxies: false, unknown_future_key: 1 })).toEqual([]);
  });
});

describe('etcd3 plugin manifest', () => {
  it('is a valid DCS manifest the plugin host finds as the etcd3 section', async () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect([plugin.kind, plugin.name, plugin.configKey]).toEqual(['dcs', 'etcd3', 'etcd3']);
    const host = new PluginHost({ config: { etcd3: { hosts: ['127.0.0.1:2379'] } } });
    const ref = await host.find('dcs', 'etcd3');
    expect(ref).toMatchObject({ source: '@pgha/dcs-etcd3', installed: true, configKey: 'etcd3' });
    const loaded = await host.load(ref!);
    expect(loaded.name).toBe('etcd3');
    await expect(host.validateSection(loaded, { username: 'u' }, 'etcd3')).rejects.toThrow(/etcd3\.password/);
  });
});
