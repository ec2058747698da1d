/**
 * Config sections are validated with the plugin's Standard Schema v1 (standardschema.dev: zod,
 * valibot, arktype...); the interface lives in @pgha/plugin-api. Issues come back with key paths.
 */
import type { StandardIssue, StandardSchemaV1 } from '@pgha/plugin-api';

export type { StandardIssue, StandardResult, StandardSchemaV1 } from '@pgha/plugin-api';

/** Render an issue path as dotted text under `prefix`: `etcd3.hosts.0`. */
export function issuePath(prefix: string, issue: StandardIssue): string {
  const parts = (issue.path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p));
  return [prefix, ...parts].filter(Boolean).join('.');
}

export async function validateWith<T>(schema: StandardSchemaV1<unknown, T>, value: unknown, prefix: string):
  Promise<{ ok: true; value: T } | { ok: false; issues: Array<{ path: string; message: string }> }> {
  const r = await schema['~standard'].validate(value);
  if (r.issues) return { ok: false, issues: r.issues.map((i) => ({ path: issuePath(prefix, i), message: i.message })) };
  return { ok: true, value: r.value };
}
