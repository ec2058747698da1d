/**
 * `-d/--dcs-url DCS://HOST:PORT/NAMESPACE` (env DCS_URL), patronictl's parse_dcs: the result
 * replaces every DCS section of the configuration, and a path sets the namespace.
 */
import { isPlainObject } from '@pgha/core';
import { CtlError } from './errors.js';

const DCS_DEFAULTS: Record<string, { port: number; section: (hostPort: string, host: string, port: number) => Record<string, unknown> }> = {
  zookeeper: { port: 2181, section: (hp) => ({ zookeeper: { hosts: [hp] } }) },
  exhibitor: { port: 8181, section: (_hp, host, port) => ({ exhibitor: { hosts: [host], port } }) },
  consul: { port: 8500, section: (hp) => ({ consul: { host: hp } }) },
  // pgha speaks only the etcd v3 API, so `etcd://` (patronictl's default scheme) means etcd3 here.
  etcd: { port: 2379, section: (hp) => ({ etcd3: { host: hp } }) },
  etcd3: { port: 2379, section: (hp) => ({ etcd3: { host: hp } }) },
};

/** Configuration keys a DCS URL replaces. */
export const DCS_SECTION_KEYS = ['zookeeper', 'exhibitor', 'consul', 'etcd', 'etcd3', 'kubernetes', 'raft'];

export interface ParsedDcsUrl {
  /** The DCS section(s) to use instead of the configuration's, e.g. `{etcd3: {host: 'h:2379'}}`. */
  readonly sections: Record<string, unknown>;
  readonly namespace?: string;
}

/**
 * pgha's `kubernetes://[CONTEXT][/NAMESPACE]` (patronictl has no such scheme): the API server comes
 * from the service account or kubeconfig, so the host names a kubeconfig context, and the path the
 * Kubernetes namespace (not the DCS key namespace, which Kubernetes does not use).
 */
function parseKubernetesUrl(url: string): ParsedDcsUrl | null {
  const m = /^kubernetes:\/\/([^/:]*)(\/[^/]*)?\/?$/i.exec(url.trim());
  if (!/^kubernetes:/i.test(url.trim())) return null;
  if (!m) throw new CtlError(`Can not parse the DCS url: ${url} (use kubernetes://[CONTEXT][/NAMESPACE])`);
  const section: Record<string, unknown> = {};
  if (m[1]) section.context = m[1];
  const ns = (m[2] ?? '').replace(/^\//, '');
  if (ns) section.namespace = ns;
  return { sections: { kubernetes: section } };
}

export function parseDcsUrl(url: string): ParsedDcsUrl {
  const k8s = parseKubernetesUrl(url);
  if (k8s) return k8s;
  const text = url.includes('//') ? url : `//${url}`;
  const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):)?\/\/(\[[^\]]*\]|[^/:]*)(?::(\d*))?(\/.*)?$/.exec(text);
  if (!m) throw new CtlError(`Can not parse the DCS url: ${url}`);
  const [, rawScheme = '', rawHost = '', rawPort = '', path = ''] = m;
  const port = rawPort ? Number(rawPort) : null;
  let scheme = rawScheme.toLowerCase();
  if (!scheme) scheme = Object.entries(DCS_DEFAULTS).find(([, d]) => d.port === port)?.[0] ?? 'etcd';
  const defaults = DCS_DEFAULTS[scheme];
  if (!defaults) throw new CtlError(`Unknown dcs scheme: ${rawScheme}`);
  const host = rawHost || 'localhost';
  const p = port ?? defaults.port;
  const out: { sections: Record<string, unknown>; namespace?: string } = { sections: defaults.section(`${host}:${p}`, host, p) };
  if (path.trim() && path.trim() !== '/') out.namespace = path.trim();
  return out;
}

/** The configuration with its DCS sections (and namespace) replaced by the URL's. */
export function applyDcsUrl(config: Record<string, unknown>, url: string): Record<string, unknown> {
  const parsed = parseDcsUrl(url);
  const out: Record<string, unknown> = { ...config };
  // kubernetes:// keeps the configuration's section (its labels select the cluster's objects).
  const kube = isPlainObject(parsed.sections.kubernetes) ? parsed.sections.kubernetes : undefined;
  const keep = kube && isPlainObject(config.kubernetes) ? config.kubernetes : {};
  for (const k of DCS_SECTION_KEYS) delete out[k];
  Object.assign(out, parsed.sections);
  if (kube) out.kubernetes = { ...keep, ...kube };
  if (parsed.namespace) out.namespace = parsed.namespace;
  return out;
}
