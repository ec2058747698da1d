/**
 * pgha's Kubernetes plugin against the DCS conformance kit on the Kubernetes API emulator, in both of
 * Patroni's layouts: ConfigMaps (the default) and Endpoints (use_endpoints: true). Each conformance
 * cluster gets its own namespace (member names repeat across clusters, and Pods are named by member);
 * the harness creates the Pods, as a StatefulSet would.
 */
import { createKubernetesDriver } from '@pgha/dcs-kubernetes';
import { runDcsConformance } from '@pgha/core/testing';
import { afterAll, beforeAll } from 'vitest';
import { userTempDir } from '../helpers/user.js';
import { startEmulator, writeKubeconfig, type RunningEmulator } from './harness.js';

let emu: RunningEmulator;
const LABELS = { application: 'pgha' };

beforeAll(async () => {
  emu = await startEmulator();
  delete process.env.KUBERNETES_SERVICE_HOST;
  process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-conf'), emu.url, emu.token);
});

afterAll(async () => { await emu?.stop(); });

for (const useEndpoints of [false, true]) {
  runDcsConformance(`kubernetes (${useEndpoints ? 'Endpoints' : 'ConfigMaps'}, emulator)`, () => ({
    ttl: 3,
    async create(ctx) {
      const namespace = ctx.scope.toLowerCase();
      if (!ctx.ctl) await emu.api.createPod(namespace, ctx.name, { ...LABELS, 'cluster-name': ctx.scope });
      return createKubernetesDriver(ctx, { namespace, labels: LABELS, use_endpoints: useEndpoints, pod_ip: '127.0.0.1', ports: [{ name: 'postgresql', port: 5432 }] });
    },
    async putRaw(ctx, key, value) {
      const m = /^members\/(.+)$/.exec(key);
      if (!m) throw new Error(`putRaw: only members/<name> is a Pod annotation (${key})`);
      const namespace = ctx.scope.toLowerCase();
      await emu.api.createPod(namespace, m[1]!, { ...LABELS, 'cluster-name': ctx.scope });
      const r = await emu.api.request('PATCH', `/api/v1/namespaces/${namespace}/pods/${m[1]}`, { metadata: { annotations: { status: value } } }, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`putRaw: ${r.status}`);
    },
  }));
}
