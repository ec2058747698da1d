/**
 * Kubernetes API EMULATOR (test tree only): the object store. One global resourceVersion counter
 * (like etcd's revision behind a real API server), namespaced objects of the core/v1 kinds pgha and
 * Patroni use, an event history for watches that resume from a resourceVersion (older than the
 * window: 410 Gone), and label/field selectors.
 */
import { randomUUID } from 'node:crypto';

export type K8sObject = Record<string, any> & { metadata: Record<string, any> };

/** core/v1 resources served, with their kind and the API server's update rules. */
export const RESOURCES: Record<string, { kind: string; createOnUpdate: boolean }> = {
  configmaps: { kind: 'ConfigMap', createOnUpdate: false },
  endpoints: { kind: 'Endpoints', createOnUpdate: true },
  pods: { kind: 'Pod', createOnUpdate: false },
  services: { kind: 'Service', createOnUpdate: false },
  serviceaccounts: { kind: 'ServiceAccount', createOnUpdate: false },
  secrets: { kind: 'Secret', createOnUpdate: false },
};

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly rv: number;
  readonly resource: string;
  readonly namespace: string;
  readonly object: K8sObject;
  /** The object before the change (label-selector watches turn a change of labels into ADDED/DELETED). */
  readonly old: K8sObject | null;
}

export class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const HISTORY = 2000;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export class Store {
  private rv = 1;
  private readonly objects = new Map<string, K8sObject>();
  private readonly history: WatchEvent[] = [];
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private ipSeq = 10;

  get resourceVersion(): number { return this.rv; }
  /** The oldest resourceVersion a watch can resume from; older ones get 410 Gone. */
  get oldestWatchable(): number { return this.history.length ? this.history[0]!.rv - 1 : this.rv; }

  /** Forget the event history (tests of 410 Gone). */
  compact(): void { this.history.length = 0; }

  private key(resource: string, ns: string, name: string) { return `${resource}/${ns}/${name}`; }

  get(resource: string, ns: string, name: string): K8sObject {
    const o = this.objects.get(this.key(resource, ns, name));
    if (!o) throw notFound(resource, name);
    return clone(o);
  }

  list(resource: string, ns: string | null, sel: Selector): K8sObject[] {
    const out: K8sObject[] = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(`${resource}/`)) continue;
      if (ns !== null && o.metadata.namespace !== ns) continue;
      if (sel.matches(o)) out.push(clone(o));
    }
    return out.sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
  }

  create(resource: string, ns: string, body: K8sObject): K8sObject {
    const name = body?.metadata?.name;
    if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name) || name.length > 253) {
      throw new ApiError(422, 'Invalid', `${RESOURCES[resource]!.kind} "${String(name)}" is invalid: metadata.name: Invalid value`);
    }
    if (body.metadata.namespace && body.metadata.namespace !== ns) {
      throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    const k = this.key(resource, ns, name);
    if (this.objects.has(k)) throw new ApiError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });
    const o = normalize(clone(body), resource, ns);
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (resource === 'services' && o.spec?.clusterIP === undefined) o.spec = { ...(o.spec ?? {}), clusterIP: `10.96.0.${this.ipSeq++ % 250}` };
    return this.commit(resource, ns, k, o, null);
  }

  /** Replace (PUT) or apply a computed patch result; `expectRv` is the precondition, if any. */
  update(resource: string, ns: string, name: string, next: K8sObject, expectRv: string | undefined, allowCreate: boolean): K8sObject {
    const k = this.key(resource, ns, name);
    const cur = this.objects.get(k);
    if (!cur) {
      if (allowCreate) return this.create(resource, ns, { ...next, metadata: { ...next.metadata, name, resourceVersion: undefined } });
      throw notFound(resource, name);
    }
    if (next.metadata?.name !== undefined && next.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    }
    if (expectRv !== undefined && expectRv !== '' && expectRv !== cur.metadata.resourceVersion) {
      throw conflict(resource, name);
    }
    const o = normalize(clone(next), resource, ns);
    // Server-owned metadata survives whatever the client sent.
    for (const f of ['uid', 'creationTimestamp', 'name', 'namespace']) o.metadata[f] = cur.metadata[f];
    if (deepEqualJson(strip(o), strip(cur))) return clone(cur);
    return this.commit(resource, ns, k, o, cur);
  }

  delete(resource: string, ns: string, name: string, expectRv?: string): K8sObject {
    const k = this.key(resource, ns, name);
    const cur = this.objects.get(k);
    if (!cur) throw notFound(resource, name);
    if (expectRv && expectRv !== cur.metadata.resourceVersion) throw conflict(resource, name);
    this.objects.delete(k);
    const gone = clone(cur);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: 'DELETED', rv: this.rv, resource, namespace: ns, object: gone, old: clone(cur) });
    return gone;
  }

  onEvent(fn: (e: WatchEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv` (exclusive), or null when the history no longer reaches back that far. */
  since(rv: number): WatchEvent[] | null {
    if (rv < this.oldestWatchable) return null;
    return this.history.filter((e) => e.rv > rv);
  }

  private commit(resource: string, ns: string, k: string, o: K8sObject, old: K8sObject | null): K8sObject {
    o.metadata.resourceVersion = String(++this.rv);
    this.objects.set(k, o);
    this.emit({ type: old ? 'MODIFIED' : 'ADDED', rv: this.rv, resource, namespace: ns, object: clone(o), old: old ? clone(old) : null });
    return clone(o);
  }

  private emit(e: WatchEvent) {
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    for (const l of this.listeners) l(e);
  }
}

function normalize(o: K8sObject, resource: string, ns: string): K8sObject {
  o.apiVersion = 'v1';
  o.kind = RESOURCES[resource]!.kind;
  o.metadata = { ...(o.metadata ?? {}), namespace: ns };
  for (const m of ['labels', 'annotations'] as const) {
    const map = o.metadata[m];
    if (map === undefined || map === null) {
      delete o.metadata[m];
      continue;
    }
    if (typeof map !== 'object' || Array.isArray(map)) throw new ApiError(400, 'BadRequest', `metadata.${m}: must be a map of strings`);
    for (const [key, v] of Object.entries(map)) {
      if (v === null) delete map[key];
      else if (typeof v !== 'string') {
        throw new ApiError(400, 'BadRequest', `json: cannot unmarshal ${typeof v} into Go struct field ObjectMeta.metadata.${m} of type string`);
      }
    }
    // The real server omits empty maps (omitempty).
    if (!Object.keys(map).length) delete o.metadata[m];
  }
  delete o.metadata.resourceVersion;
  return o;
}

function strip(o: K8sObject): K8sObject {
  const c = clone(o);
  delete c.metadata.resourceVersion;
  return c;
}

export function clone<T>(v: T): T { return structuredClone(v); }

function deepEqualJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as any)[k])]));
  return v;
}

export function notFound(resource: string, name: string) {
  return new ApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}

export function conflict(resource: string, name: string) {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: resource });
}

/** Label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) plus `metadata.name`/`metadata.namespace` field selectors. */
export class Selector {
  private constructor(private readonly tests: Array<(o: K8sObject) => boolean>) {}

  static parse(labelSelector: string | null, fieldSelector: string | null): Selector {
    const tests: Array<(o: K8sObject) => boolean> = [];
    for (const term of splitTerms(labelSelector ?? '')) {
      const labels = (o: K8sObject): Record<string, string> => o.metadata.labels ?? {};
      let m: RegExpExecArray | null;
      if ((m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
        const [, k, op, vals] = m;
        const set = new Set(vals!.split(',').map((s) => s.trim()).filter(Boolean));
        tests.push(op === 'in' ? (o) => set.has(labels(o)[k!]!) : (o) => !set.has(labels(o)[k!]!));
      } else if ((m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(term))) {
        const [, k, op, v] = m;
        tests.push(op === '!=' ? (o) => labels(o)[k!] !== v : (o) => labels(o)[k!] === v);
      } else if ((m = /^!\s*([^\s!=]+)$/.exec(term))) {
        const k = m[1]!;
        tests.push((o) => !(k in labels(o)));
      } else if (/^[^\s!=(),]+$/.test(term)) {
        tests.push((o) => term in labels(o));
      } else throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${term}`);
    }
    for (const term of splitTerms(fieldSelector ?? '')) {
      const m = /^(metadata\.name|metadata\.namespace)\s*(==|=|!=)\s*(.*)$/.exec(term);
      if (!m) throw new ApiError(400, 'BadRequest', `field label not supported: ${term}`);
      const [, field, op, v] = m;
      const get = (o: K8sObject) => (field === 'metadata.name' ? o.metadata.name : o.metadata.namespace);
      tests.push(op === '!=' ? (o) => get(o) !== v : (o) => get(o) === v);
    }
    return new Selector(tests);
  }

  matches(o: K8sObject): boolean { return this.tests.every((t) => t(o)); }
}

/** Split on commas outside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter(Boolean);
}
