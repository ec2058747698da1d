/**
 * examples/kubernetes: every manifest parses and hangs together (labels, selectors, names, the
 * Kubernetes config section pgha loads with the StatefulSet's environment), the core/v1 objects
 * apply to the API emulator, and the RBAC Role is exactly what the plugin needs: the emulator enforces
 * it while the plugin runs every driver call in both layouts, nothing is refused, and every rule the
 * Role grants is used (least privilege).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterBasePath, loadConfig, type DcsContext } from '@pgha/core';
import { createKubernetesDriver, kubernetesConfigSchema, unhonouredKeys } from '@pgha/dcs-kubernetes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { userTempDir } from '../helpers/user.js';
import { startEmulator, writeKubeconfig, type RunningEmulator } from './harness.js';

const DIR = fileURLToPath(new URL('../../examples/kubernetes/', import.meta.url));
const AGENT = 'agent-token-of-the-example-role';

function docs(file: string): any[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS();
  }).filter(Boolean);
}

const all = () => readdirSync(DIR).filter((f) => f.endsWith('.yaml')).flatMap((f) => docs(f).map((d) => ({ file: f, ...d })));
const find = (kind: string, name?: string) => all().find((d) => d.kind === kind && (!name || d.metadata.name === name));

describe('examples/kubernetes manifests', () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ rbac: { [AGENT]: join(DIR, 'rbac.yaml') } });
  });

  afterAll(async () => { await emu?.stop(); });

  it('parse into well-formed objects: StatefulSet, RBAC, Services, config', () => {
    const objects = all();
    for (const o of objects) {
      expect(o.apiVersion, `${o.file}`).toMatch(/^(v1|apps\/v1|rbac\.authorization\.k8s\.io\/v1)$/);
      expect(o.metadata?.name, `${o.file} ${o.kind}`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Role', 'RoleBinding', 'Secret', 'Service', 'Service', 'Service', 'Service', 'ServiceAccount', 'StatefulSet']);
    expect(readdirSync(DIR)).toContain('README.md');
  });

  it('hang together: labels, selectors, the service account, the config section and the environment', () => {
    const cfgText = find('ConfigMap', 'pgha-config')!.data['pgha.yml'];
    const dir = mkdtempSync(join(tmpdir(), 'pgha-manifest-'));
    writeFileSync(join(dir, 'pgha.yml'), cfgText);
    const sts = find('StatefulSet')!;
    const container = sts.spec.template.spec.containers[0];
    // The environment the StatefulSet gives each Pod, with the values Kubernetes would substitute.
    const env: Record<string, string> = {};
    const fieldValues: Record<string, string> = { 'metadata.name': 'demo-0', 'metadata.namespace': 'db', 'status.podIP': '10.1.0.7' };
    for (const e of container.env) {
      if (e.valueFrom?.fieldRef) env[e.name] = fieldValues[e.valueFrom.fieldRef.fieldPath]!;
      else if (e.valueFrom?.secretKeyRef) env[e.name] = find('Secret', e.valueFrom.secretKeyRef.name)!.stringData[e.valueFrom.secretKeyRef.key];
      else env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_, v: string) => env[v]!);
    }
    const loaded = loadConfig({ path: join(dir, 'pgha.yml'), env });
    const c = loaded.config as any;
    expect(c.name).toBe('demo-0');
    expect(c.kubernetes).toMatchObject({ namespace: 'db', pod_ip: '10.1.0.7', use_endpoints: true });
    expect(c.restapi.connect_address).toBe('10.1.0.7:8008');
    expect(c.postgresql.connect_address).toBe('10.1.0.7:5432');
    expect(c.postgresql.authentication.superuser).toEqual({ username: 'postgres', password: 'change-me-superuser' });
    expect(loaded.warnings.filter((w) => /kubernetes/.test(w))).toEqual([]);
    const section = kubernetesConfigSchema.parse(c.kubernetes);
    expect(unhonouredKeys(section)).toEqual([]);

    // The Pods carry the labels the plugin selects on (labels + scope label = scope).
    const podLabels = sts.spec.template.metadata.labels;
    expect(podLabels).toMatchObject({ ...section.labels, [section.scope_label ?? 'cluster-name']: c.scope });
    expect(sts.spec.selector.matchLabels).toEqual(podLabels);
    expect(sts.spec.template.spec.serviceAccountName).toBe(find('ServiceAccount')!.metadata.name);
    expect(sts.spec.serviceName).toBe('demo-members');
    const role = section.role_label ?? 'role';
    expect(find('Service', `${c.scope}-primary`)!.spec.selector).toEqual({ ...podLabels, [role]: section.leader_label_value });
    expect(find('Service', `${c.scope}-replica`)!.spec.selector).toEqual({ ...podLabels, [role]: section.follower_label_value });
    // With use_endpoints the Service named like the scope has no selector: pgha's leader Endpoints feed it.
    expect(find('Service', c.scope)!.spec.selector).toBeUndefined();
    expect(find('Service', 'demo-members')!.spec.clusterIP).toBe('None');
    const binding = find('RoleBinding')!;
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: find('Role')!.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: find('ServiceAccount')!.metadata.name }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readiness', port: 8008 });
  });

  it('apply to the API emulator (the core/v1 objects it serves)', async () => {
    for (const o of all().filter((x) => x.apiVersion === 'v1')) {
      const { file: _file, ...body } = o;
      const plural = { ServiceAccount: 'serviceaccounts', Service: 'services', ConfigMap: 'configmaps', Secret: 'secrets' }[o.kind as string]!;
      const r = await emu.api.request('POST', `/api/v1/namespaces/manifests/${plural}`, body);
      expect(r.status, `${o.kind}/${o.metadata.name}: ${JSON.stringify(r.body)}`).toBe(201);
    }
    // The role Services route to the Pods pgha labels.
    await emu.api.createPod('manifests', 'demo-0', { application: 'pgha', 'cluster-name': 'demo', role: 'primary' }, '10.1.0.7');
    await emu.api.createPod('manifests', 'demo-1', { application: 'pgha', 'cluster-name': 'demo', role: 'replica' }, '10.1.0.8');
    const ep = await emu.api.get('manifests', 'endpoints', 'demo-primary');
    expect(ep.subsets[0].addresses.map((a: any) => a.ip)).toEqual(['10.1.0.7']);
    expect((await emu.api.get('manifests', 'endpoints', 'demo-replica')).subsets[0].addresses.map((a: any) => a.ip)).toEqual(['10.1.0.8']);
  });

  it('grant exactly what the plugin uses: every driver call under the enforced Role, in both layouts', async () => {
    const kubeconfig = writeKubeconfig(userTempDir('k8s-rbac'), emu.url, AGENT);
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = kubeconfig;
    for (const useEndpoints of [false, true]) {
      const scope = `rbac${useEndpoints ? 'ep' : 'cm'}`;
      await emu.api.createPod('rbac', `${scope}-0`, { application: 'pgha', 'cluster-name': scope }, '10.2.0.1');
      const ctx: DcsContext = { name: `${scope}-0`, scope, namespace: '/service', basePath: clusterBasePath('/service', scope), ttl: 20, loopWait: 1, retryTimeout: 5, ctl: false };
      const d = createKubernetesDriver(ctx, { namespace: 'rbac', labels: { application: 'pgha' }, use_endpoints: useEndpoints });
      await d.loadCluster();
      expect(await d.initialize(true, '7268616322854375442')).toBe(true);
      expect(await d.touchMember({ state: 'running', role: 'primary', conn_url: 'postgres://10.2.0.1:5432/postgres' })).toBe(true);
      expect(await d.attemptToAcquireLeader()).toBe(true);
      const nodes = await d.loadCluster();
      const cfgVersion = nodes.find((n) => n.key === 'initialize')!.version;
      expect(await d.setConfigValue('{"ttl":20}', cfgVersion)).toBe(true);
      expect(await d.updateLeader(null as never)).toBe(true);
      expect(await d.writeStatus('{"optime":100}')).toBe(true);
      expect(await d.writeFailsafe('{"a":"b"}')).toBe(true);
      expect(await d.setHistoryValue('[]')).toBe(true);
      expect(await d.setFailoverValue('{"leader":"x"}')).toBe(true);
      const sync = await d.setSyncStateValue('{"leader":"x"}');
      expect(await d.deleteSyncState(sync as string)).toBe(true);
      await d.loadCluster();
      expect(await d.watch(null, 300, new AbortController().signal)).toBe(false);
      expect(await d.cancelInitialization()).toBe(true);
      expect(await d.deleteLeader(null)).toBe(true);
      expect(await d.deleteCluster()).toBe(true);
      await d.close();
    }
    const agentIndex = 1; // tokens: [admin, AGENT]
    const calls = (await emu.api.audit()).filter((a) => a.user === agentIndex);
    expect(calls.filter((a) => a.code === 403).map((a) => `${a.verb} ${a.resource}`)).toEqual([]);
    const used = new Set(calls.map((a) => `${a.verb} ${a.resource}`));
    const granted = new Set(find('Role')!.rules.flatMap((r: any) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${res}`))));
    // Least privilege: nothing granted goes unused, except watching Pods, which Patroni's patronictl needs.
    expect([...granted].filter((g) => !used.has(g as string)).sort()).toEqual(['watch pods']);
    expect([...used].filter((u) => !granted.has(u)).sort()).toEqual([]);
  });
});
