import { describe, expect, it } from 'vitest';
import { manifestProblems, PluginHost, validateWith } from '@pgha/core';
import plugin, { connectionString, zookeeperConfigSchema } from './index.js';

const parse = (section: unknown) => zookeeperConfigSchema.parse(section);

async function issues(section: unknown): Promise<string[]> {
  const r = await validateWith(zookeeperConfigSchema, section, 'zookeeper');
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('zookeeper config section', () => {
  it('takes hosts as a list or a comma string, with default ports, a chroot, or the default host', () => {
    expect(connectionString(parse({ hosts: ['10.0.0.1:2181', '10.0.0.2'] }))).toBe('10.0.0.1:2181,10.0.0.2:2181');
    expect(connectionString(parse({ hosts: 'zk1:2182, zk2 ,zk3:2183' }))).toBe('zk1:2182,zk2:2181,zk3:2183');
    expect(connectionString(parse({ hosts: ['zk1:2181', 'zk2:2181/pgha'] }))).toBe('zk1:2181,zk2:2181/pgha');
    expect(connectionString(parse({ hosts: ['[::1]:2181', '[::1]'] }))).toBe('[::1]:2181,[::1]:2181');
    expect(connectionString(parse({}))).toBe('127.0.0.1:2181');
  });

  it("accepts kazoo's auth_data as pairs or as a scheme -> credential mapping, and use_ssl: false", () => {
    expect(parse({ auth_data: [['digest', 'u:p']] }).auth_data).toEqual([['digest', 'u:p']]);
    expect(parse({ auth_data: { digest: 'u:p' } }).auth_data).toEqual([['digest', 'u:p']]);
    expect(parse({ auth_data: [{ scheme: 'digest', credential: 'u:p' }] }).auth_data).toEqual([['digest', 'u:p']]);
    expect(parse({ use_ssl: false, connect_timeout: '2.5' })).toMatchObject({ use_ssl: false, connect_timeout: 2.5 });
  });

  it('refuses what it cannot honour, naming the key: TLS, x509 ACLs, unknown keys', async () => {
    expect(await issues({ hosts: 'a', use_ssl: true })).toEqual([expect.stringMatching(/^zookeeper\.use_ssl: TLS is not supported/)]);
    const tls = await issues({ cacert: '/ca', cert: '/c', key: '/k', key_password: 'x', verify: true });
    expect(tls.map((i) => i.split(':')[0])).toEqual(['zookeeper.cacert', 'zookeeper.cert', 'zookeeper.key', 'zookeeper.key_password', 'zookeeper.verify']);
    expect(await issues({ set_acls: { 'CN=principal': ['ALL'] } })).toEqual([expect.stringMatching(/^zookeeper\.set_acls: x509 ACLs need TLS/)]);
    expect(await issues({ hostz: 'a' })).toEqual(['zookeeper.hostz: unknown key in the zookeeper section']);
  });

  it('names the offending key path for malformed values', async () => {
    expect(await issues({ hosts: ['ok:2181', 'http://zk:2181'] })).toEqual([expect.stringMatching(/^zookeeper\.hosts\.1: write host:port without a scheme/)]);
    expect(await issues({ hosts: ['zk:port'] })).toEqual([expect.stringMatching(/^zookeeper\.hosts\.0: not a host\[:port\]/)]);
    expect((await issues({ connect_timeout: -1 }))[0]).toMatch(/^zookeeper\.connect_timeout: /);
    expect((await issues({ auth_data: 'digest:u:p' }))[0]).toMatch(/^zookeeper\.auth_data: /);
    expect((await issues({ hosts: { a: 1 } }))[0]).toMatch(/^zookeeper\.hosts: /);
  });
});

describe('zookeeper plugin manifest', () => {
  it('is a valid dcs manifest for the zookeeper section', () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin).toMatchObject({ kind: 'dcs', name: 'zookeeper', configKey: 'zookeeper', apiVersion: '1.0' });
  });

  it('is what the plugin host loads for a zookeeper section, and its errors name the key', async () => {
    const ok = new PluginHost({ config: { zookeeper: { hosts: ['127.0.0.1:2181'] } } });
    const check = await ok.checkDcs();
    expect(check.selected).toBe('zookeeper');
    expect(check.sections[0]).toMatchObject({ ok: true, source: '@pgha/dcs-zookeeper' });
    const bad = new PluginHost({ config: { zookeeper: { hosts: ['127.0.0.1:2181'], use_ssl: true } } });
    const r = await bad.checkDcs();
    expect(r.selected).toBeNull();
    expect(r.error).toMatch(/zookeeper: zookeeper\.use_ssl: TLS is not supported/);
  });
});
