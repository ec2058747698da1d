/**
 * The `postgresql.leastloaded` section, validated by the core with this Standard Schema before the
 * method is created (errors reach the user with the key path, e.g. `postgresql.leastloaded.max_rate`).
 */
import type { StandardSchemaV1 } from '@pgha/plugin-api';

export interface LeastLoadedConfig {
  /** pg_basebackup --max-rate (e.g. '50M'); null: unthrottled. */
  readonly max_rate: string | null;
  /** Replicas further behind the leader than this are not used (bytes). */
  readonly max_lag_bytes: number;
  /** How long to wait for a replica's REST status. */
  readonly probe_timeout_ms: number;
}

const DEFAULTS: LeastLoadedConfig = { max_rate: null, max_lag_bytes: 16 * 1024 * 1024, probe_timeout_ms: 2000 };

export const configSchema: StandardSchemaV1<unknown, LeastLoadedConfig> = {
  '~standard': {
    version: 1,
    vendor: 'pgha-plugin-leastloaded',
    validate(v) {
      if (v === null || v === undefined) return { value: DEFAULTS };
      if (typeof v !== 'object' || Array.isArray(v)) return { issues: [{ message: 'expected a mapping' }] };
      const o = v as Record<string, unknown>;
      const issues: { message: string; path: string[] }[] = [];
      for (const k of Object.keys(o)) if (!(k in DEFAULTS)) issues.push({ message: `unknown key (known: ${Object.keys(DEFAULTS).join(', ')})`, path: [k] });
      if (o.max_rate !== undefined && (typeof o.max_rate !== 'string' || !/^\d+[kM]?$/.test(o.max_rate))) {
        issues.push({ message: "expected a rate like '32M' or '800k'", path: ['max_rate'] });
      }
      for (const k of ['max_lag_bytes', 'probe_timeout_ms'] as const) {
        if (o[k] !== undefined && (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < 0)) issues.push({ message: 'expected a non-negative number', path: [k] });
      }
      if (issues.length) return { issues };
      return { value: { ...DEFAULTS, ...(o as Partial<LeastLoadedConfig>) } };
    },
  },
};
