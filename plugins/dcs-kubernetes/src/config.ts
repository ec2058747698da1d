/**
 * The `kubernetes:` section, as Patroni 4 reads it, and the settings the driver runs with.
 * Validation errors carry key paths (`kubernetes.ports.0.port`), which the plugin host prefixes.
 */
import { z } from 'zod';

const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
const boolish = z.union([z.boolean(), z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(v)) return true;
  if (['false', 'no', 'off', '0', ''].includes(v)) return false;
  ctx.addIssue({ code: 'custom', message: `not a boolean: ${s}` });
  return z.NEVER;
})]);
const labelMap = z.record(z.string(), scalarString);
const port = z.looseObject({
  name: z.string().optional(),
  port: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).refine((p) => p > 0 && p < 65536, 'must be a TCP port'),
  protocol: z.string().optional(),
});
/** An int, a list of ints, or a comma-separated string of them (Patroni's reload_config). */
const httpCodes = z.union([
  z.number().int(),
  z.array(z.union([z.number().int(), z.string().regex(/^\s*\d+\s*$/).transform(Number)])),
  z.string().transform((s, ctx) => {
    const parts = s.split(',').map((p) => p.trim()).filter(Boolean);
    if (parts.some((p) => !/^\d+$/.test(p))) {
      ctx.addIssue({ code: 'custom', message: `not a list of HTTP codes: ${s}` });
      return z.NEVER;
    }
    return parts.map(Number);
  }),
]).transform((v) => (Array.isArray(v) ? v : [v]));

export const kubernetesConfigSchema = z.looseObject({
  namespace: z.string().optional(),
  labels: labelMap.optional(),
  scope_label: z.string().optional(),
  role_label: z.string().optional(),
  leader_label_value: scalarString.optional(),
  follower_label_value: scalarString.optional(),
  standby_leader_label_value: scalarString.optional(),
  tmp_role_label: z.string().optional(),
  bootstrap_labels: labelMap.optional(),
  use_endpoints: boolish.optional(),
  pod_ip: z.string().optional(),
  ports: z.array(port).optional(),
  cacert: z.string().optional(),
  retriable_http_codes: httpCodes.optional(),
  bypass_api_service: boolish.optional(),
  context: z.string().optional(),
});

export type KubernetesConfig = z.output<typeof kubernetesConfigSchema>;

/** Keys Patroni accepts that this plugin reads but cannot act on, with why (reported by name at startup). */
export const NOT_HONOURED: Record<string, string> = {
  bypass_api_service: 'not acted on: the API is always reached through the configured server (in-cluster service or kubeconfig)',
};

const KNOWN = new Set(Object.keys(kubernetesConfigSchema.shape));

/** `kubernetes.<key>: why` for every key given that pgha will not act on (unknown keys included). */
export function unhonouredKeys(c: KubernetesConfig): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined) continue;
    if (NOT_HONOURED[k] && v !== false) out.push(`kubernetes.${k}: ${NOT_HONOURED[k]}`);
    else if (!KNOWN.has(k)) out.push(`kubernetes.${k}: unknown key, ignored`);
  }
  return out;
}

export interface EndpointPort { name?: string; port: number; protocol?: string }

/** Everything the driver needs, defaults applied as Patroni 4 applies them. */
export interface KubernetesSettings {
  readonly namespace: string;
  /** Labels put on every object and used (with the scope label) as the selector. */
  readonly labels: Record<string, string>;
  readonly roleLabel: string;
  readonly leaderLabelValue: string;
  readonly followerLabelValue: string;
  readonly standbyLeaderLabelValue: string;
  readonly tmpRoleLabel: string | null;
  readonly bootstrapLabels: Record<string, string>;
  readonly useEndpoints: boolean;
  /** The leader's IP for the leader Endpoints' subsets; '' = take it from this Pod's status.podIP. */
  readonly podIp: string;
  readonly ports: EndpointPort[];
  readonly retriableHttpCodes: ReadonlySet<number>;
}

const DEFAULT_RETRIABLE = [500, 503, 504];

export function resolveSettings(c: KubernetesConfig, scope: string): KubernetesSettings {
  const labels: Record<string, string> = { ...(c.labels ?? {}) };
  labels[c.scope_label ?? 'cluster-name'] = scope;
  return {
    namespace: c.namespace || 'default',
    labels,
    roleLabel: c.role_label ?? 'role',
    leaderLabelValue: c.leader_label_value ?? 'primary',
    followerLabelValue: c.follower_label_value ?? 'replica',
    standbyLeaderLabelValue: c.standby_leader_label_value ?? 'primary',
    tmpRoleLabel: c.tmp_role_label || null,
    bootstrapLabels: { ...(c.bootstrap_labels ?? {}) },
    useEndpoints: !!c.use_endpoints,
    podIp: c.pod_ip ?? '',
    ports: (c.ports?.length ? c.ports : [{ port: 5432 }]).map((p) => ({
      port: Number(p.port), ...(p.name ? { name: p.name } : {}), ...(p.protocol ? { protocol: p.protocol } : {}),
    })),
    retriableHttpCodes: new Set([...DEFAULT_RETRIABLE, ...(c.retriable_http_codes ?? [])]),
  };
}

/** `a=b,c=d`: the label selector for every list and watch. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}
