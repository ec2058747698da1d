import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manifestProblems, validateWith } from '@pgha/core';
import plugin, { createKubernetesDriver, kubernetesConfigSchema, labelSelector, loadKubeConfig, resolveSettings, unhonouredKeys } from './index.js';

const parse = (section: unknown) => kubernetesConfigSchema.parse(section);

describe('kubernetes config section', () => {
  it("applies Patroni 4's defaults", () => {
    const s = resolveSettings(parse({}), 'demo');
    expect(s).toMatchObject({
      namespace: 'default', labels: { 'cluster-name': 'demo' }, roleLabel: 'role', leaderLabelValue: 'primary',
      followerLabelValue: 'replica', standbyLeaderLabelValue: 'primary', tmpRoleLabel: null, useEndpoints: false, podIp: '',
      ports: [{ port: 5432 }],
    });
    expect([...s.retriableHttpCodes].sort()).toEqual([500, 503, 504]);
  });

  it('takes every key of the section, as YAML or environment strings', () => {
    const s = resolveSettings(parse({
      namespace: 'db', labels: { application: 'pgha', tier: 1 }, scope_label: 'cluster', role_label: 'spilo-role',
      leader_label_value: 'master', follower_label_value: 'standby', standby_leader_label_value: 'standby-leader',
      tmp_role_label: 'tmp-role', bootstrap_labels: { bootstrapping: 'yes' }, use_endpoints: 'true', pod_ip: '10.0.0.5',
      ports: [{ name: 'postgresql', port: '5433' }], retriable_http_codes: '401, 429',
    }), 'demo');
    expect(s.labels).toEqual({ application: 'pgha', tier: '1', cluster: 'demo' });
    expect(labelSelector(s.labels)).toBe('application=pgha,tier=1,cluster=demo');
    expect(s).toMatchObject({ namespace: 'db', roleLabel: 'spilo-role', leaderLabelValue: 'master', useEndpoints: true, podIp: '10.0.0.5', tmpRoleLabel: 'tmp-role' });
    expect(s.ports).toEqual([{ name: 'postgresql', port: 5433 }]);
    expect([...s.retriableHttpCodes].sort()).toEqual([401, 429, 500, 503, 504]);
    expect([...resolveSettings(parse({ retriable_http_codes: 409 }), 'x').retriableHttpCodes]).toContain(409);
  });

  it('names the offending key path in errors', async () => {
    const paths = async (section: unknown) => {
      const r = await validateWith(kubernetesConfigSchema, section, 'kubernetes');
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    expect(await paths({ ports: [{ port: 70000 }] })).toEqual(['kubernetes.ports.0.port']);
    expect(await paths({ use_endpoints: 'perhaps' })).toEqual(['kubernetes.use_endpoints']);
    expect(await paths({ retriable_http_codes: 'x,500' })).toEqual(['kubernetes.retriable_http_codes']);
    expect(await paths({ labels: ['a'] })).toEqual(['kubernetes.labels']);
  });

  it('reports keys it will not act on by name', () => {
    expect(unhonouredKeys(parse({ bypass_api_service: true, namespce: 'typo', namespace: 'db' }))).toEqual([
      expect.stringMatching(/^kubernetes\.bypass_api_service: not acted on/),
      'kubernetes.namespce: unknown key, ignored',
    ]);
    expect(unhonouredKeys(parse({ bypass_api_service: false }))).toEqual([]);
  });

  it('is a valid dcs plugin manifest for the kubernetes section', () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin).toMatchObject({ kind: 'dcs', name: 'kubernetes', configKey: 'kubernetes' });
  });
});

describe('where the API is', () => {
  const saved = { ...process.env };
  afterEach(() => { process.env = { ...saved }; });

  function kubeconfig(contexts: string[], current: string, server = 'https://10.0.0.1:6443'): string {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-kc-'));
    const file = join(dir, 'config');
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', `current-context: ${current}`,
      'clusters:', '- name: c', '  cluster:', `    server: ${server}`,
      'users:', '- name: u', '  user:', '    token: t',
      'contexts:', ...contexts.flatMap((n) => [`- name: ${n}`, '  context:', '    cluster: c', '    user: u']), '',
    ].join('\n'));
    return file;
  }

  it("uses KUBECONFIG with Patroni's default context kind-kind when present, else the current one", () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = kubeconfig(['prod', 'kind-kind'], 'prod');
    expect(loadKubeConfig({}).getCurrentContext()).toBe('kind-kind');
    process.env.KUBECONFIG = kubeconfig(['prod'], 'prod');
    expect(loadKubeConfig({}).getCurrentContext()).toBe('prod');
    expect(loadKubeConfig({ context: 'prod' }).getCurrentCluster()!.server).toBe('https://10.0.0.1:6443');
    expect(() => loadKubeConfig({ context: 'nope' })).toThrow(/kubernetes\.context: no context named nope/);
  });

  it('lets a plain-http server (kubectl proxy) through, and says what is missing', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = kubeconfig(['p'], 'p', 'http://127.0.0.1:8001');
    expect(loadKubeConfig({}).getCurrentCluster()).toMatchObject({ server: 'http://127.0.0.1:8001', skipTLSVerify: true });
    process.env.KUBECONFIG = '/nonexistent/kubeconfig';
    expect(() => loadKubeConfig({})).toThrow(/no kubeconfig at \/nonexistent\/kubeconfig/);
  });

  it('reports the keys it will not act on through the agent logger when the driver is made', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = kubeconfig(['p'], 'p');
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) } as never;
    const ctx = { name: 'n1', scope: 'demo', namespace: '/service', basePath: '/service/demo', ttl: 30, loopWait: 10, retryTimeout: 10, ctl: false };
    createKubernetesDriver(ctx, parse({ bypass_api_service: true, labelz: { a: 'b' } }), logger);
    expect(warnings).toEqual([expect.stringMatching(/^kubernetes\.bypass_api_service: /), 'kubernetes.labelz: unknown key, ignored']);
  });

  it('prefers the in-cluster service account, with cacert (or PATRONI_KUBERNETES_CACERT) as the CA', () => {
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const kc = loadKubeConfig({ cacert: '/etc/ca.pem' });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.96.0.1:443', caFile: '/etc/ca.pem' });
    expect(kc.getCurrentUser()?.authProvider?.config?.tokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
    process.env.PATRONI_KUBERNETES_CACERT = '/env/ca.pem';
    expect(loadKubeConfig({ cacert: '/etc/ca.pem' }).getCurrentCluster()!.caFile).toBe('/env/ca.pem');
  });
});
