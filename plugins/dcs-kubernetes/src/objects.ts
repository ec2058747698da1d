/**
 * The cluster's Kubernetes objects (ConfigMaps or Endpoints, and Pods) as the driver reads and writes
 * them: lists by label selector, conditional PATCHes (merge patch with metadata.resourceVersion),
 * creates, and the leader Endpoints' subsets (the primary's address, so a Service without a selector
 * routes to it). Remembers the last version of every object it saw or wrote.
 */
import { ConflictError, MERGE_PATCH, NotFoundError, type K8sClient, type K8sObject } from './client.js';
import { labelSelector, type KubernetesSettings } from './config.js';
import { objectNames, type LoadedObjects, type ObjectNames } from './model.js';

type Annotations = Record<string, string | null>;

export class ObjectStore {
  private readonly kinds = new Map<string, K8sObject>();
  private pods: K8sObject[] = [];
  private readonly names: ObjectNames;
  private readonly ns: string;
  private readonly selector: string;

  constructor(private readonly api: K8sClient, private readonly s: KubernetesSettings, scope: string, private readonly podName: string) {
    this.names = objectNames(scope, s.useEndpoints);
    this.ns = encodeURIComponent(s.namespace);
    this.selector = encodeURIComponent(labelSelector(s.labels));
  }

  kindsPath(): string { return `/api/v1/namespaces/${this.ns}/${this.s.useEndpoints ? 'endpoints' : 'configmaps'}`; }
  podPath(name: string): string { return `/api/v1/namespaces/${this.ns}/pods/${encodeURIComponent(name)}`; }
  private path(name: string): string { return `${this.kindsPath()}/${encodeURIComponent(name)}`; }

  cached(name: string): K8sObject | null { return this.kinds.get(name) ?? null; }

  private remember(o: K8sObject | null, name: string): K8sObject | null {
    if (o) this.kinds.set(name, o);
    else this.kinds.delete(name);
    return o;
  }

  /** Both lists (Pods, and our kind) by label selector, in parallel. */
  async load(deadline: number): Promise<LoadedObjects & { kindsRv: string }> {
    const [kinds, pods] = await Promise.all([
      this.api.call('GET', `${this.kindsPath()}?labelSelector=${this.selector}`, deadline),
      this.api.call('GET', `/api/v1/namespaces/${this.ns}/pods?labelSelector=${this.selector}`, deadline),
    ]);
    this.kinds.clear();
    for (const o of itemsOf(kinds)) this.kinds.set(String(o.metadata.name), o);
    this.pods = itemsOf(pods);
    return { kinds: new Map(this.kinds), pods: this.pods, kindsRv: String(kinds?.metadata?.resourceVersion ?? '') };
  }

  async listPods(deadline: number): Promise<K8sObject[]> {
    return itemsOf(await this.api.call('GET', `/api/v1/namespaces/${this.ns}/pods?labelSelector=${this.selector}`, deadline));
  }

  /** One object, fresh; null when it does not exist. */
  async read(name: string, deadline: number): Promise<K8sObject | null> {
    try {
      return this.remember(await this.api.call('GET', this.path(name), deadline), name);
    } catch (e) {
      if (e instanceof NotFoundError) return this.remember(null, name);
      throw e;
    }
  }

  private metadata(name: string, annotations: Annotations, rv: string | null): Record<string, unknown> {
    return { name, namespace: this.s.namespace, labels: this.s.labels, annotations, ...(rv !== null ? { resourceVersion: rv } : {}) };
  }

  /** Merge-PATCH annotations (null deletes); `rv` makes it conditional (409 → ConflictError). */
  async patch(name: string, annotations: Annotations, rv: string | null, deadline: number, ips: string[] | null = null,
    onSend?: (at: number) => void): Promise<K8sObject> {
    const body: Record<string, unknown> = { metadata: this.metadata(name, annotations, rv) };
    if (ips && name === this.names.leader && this.s.useEndpoints) {
      const subsets = await this.subsets(this.kinds.get(name) ?? null, ips);
      if (subsets) body.subsets = subsets;
    }
    return this.remember(await this.api.call('PATCH', this.path(name), deadline, body, MERGE_PATCH, onSend), name)!;
  }

  /** POST a new object (409 → ConflictError when it exists). The Endpoints config object gets its Service. */
  async create(name: string, annotations: Annotations, deadline: number, ips: string[] | null = null,
    onSend?: (at: number) => void): Promise<K8sObject> {
    const present = Object.fromEntries(Object.entries(annotations).filter(([, v]) => v !== null));
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: this.s.useEndpoints ? 'Endpoints' : 'ConfigMap', metadata: this.metadata(name, present, null) };
    if (ips && name === this.names.leader && this.s.useEndpoints) {
      const subsets = await this.subsets(null, ips);
      if (subsets) body.subsets = subsets;
    }
    if (this.s.useEndpoints && name === this.names.config) await this.createConfigService(deadline);
    return this.remember(await this.api.call('POST', this.kindsPath(), deadline, body, 'application/json', onSend), name)!;
  }

  /** Unconditional write: PATCH, or POST when absent (a racing creator makes us PATCH again). */
  async upsertObject(name: string, annotations: Annotations, deadline: number): Promise<K8sObject> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.patch(name, annotations, null, deadline);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
      try {
        return await this.create(name, annotations, deadline);
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt > 2) throw e;
      }
    }
  }

  async upsert(name: string, annotations: Annotations, deadline: number): Promise<boolean> {
    await this.upsertObject(name, annotations, deadline);
    return true;
  }

  /**
   * Patroni keeps `<scope>-config` Endpoints from being garbage-collected by giving them a headless
   * Service of the same name. Already there (409) or not allowed (403): nothing to do.
   */
  private async createConfigService(deadline: number): Promise<void> {
    const body = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: this.names.config, namespace: this.s.namespace, labels: this.s.labels },
      spec: { clusterIP: 'None' },
    };
    await this.api.call('POST', `/api/v1/namespaces/${this.ns}/services`, deadline, body).catch((e: unknown) => {
      if (!(e instanceof ConflictError) && !/\b403\b/.test(String(e))) throw e;
    });
  }

  /** Delete every object of our kind carrying the cluster's labels. */
  async deleteAll(deadline: number): Promise<void> {
    await this.api.call('DELETE', `${this.kindsPath()}?labelSelector=${this.selector}`, deadline);
    this.kinds.clear();
  }

  /**
   * The leader Endpoints' subsets for `ips` ([] = none; [''] = this Pod's IP), or undefined when the
   * current ones are already right (Patroni rewrites them only on change).
   */
  private async subsets(cur: K8sObject | null, ips: string[]): Promise<unknown[] | undefined> {
    const current: any[] = Array.isArray(cur?.subsets) ? cur!.subsets : [];
    if (!ips.length) return current.length ? [] : undefined;
    // This Pod as the last list showed it (for its IP when pod_ip is unset, and its identity).
    const pod = this.pods.find((p) => p.metadata.name === this.podName) ?? null;
    const ip = ips[0] || pod?.status?.podIP;
    if (!ip) return undefined;
    const ports = this.s.ports;
    const one = current.length === 1 ? current[0] : null;
    const unchanged = one && (one.addresses ?? []).length === 1 && one.addresses[0].ip === ip
      && JSON.stringify(sortPorts(one.ports ?? [])) === JSON.stringify(sortPorts(ports));
    if (unchanged) return undefined;
    const address: Record<string, unknown> = { ip };
    if (pod) {
      if (pod.spec?.hostname) address.hostname = pod.spec.hostname;
      if (pod.spec?.nodeName) address.nodeName = pod.spec.nodeName;
      address.targetRef = { kind: 'Pod', namespace: this.s.namespace, name: this.podName, uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion };
    }
    return [{ addresses: [address], ports }];
  }

}

function itemsOf(list: any): K8sObject[] {
  return Array.isArray(list?.items) ? list.items.filter((o: any) => o && typeof o === 'object' && o.metadata?.name) : [];
}

function sortPorts(ports: Array<{ name?: string; port: number; protocol?: string }>) {
  return ports.map((p) => ({ name: p.name ?? null, port: Number(p.port), protocol: p.protocol ?? 'TCP' }))
    .sort((a, b) => String(a.name).localeCompare(String(b.name)) || a.port - b.port);
}
