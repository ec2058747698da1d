/**
 * The Standard Schema v1 interface (standardschema.dev): zod, valibot and arktype schemas all
 * implement it, so a plugin may validate its config section with whichever library it likes.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

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
