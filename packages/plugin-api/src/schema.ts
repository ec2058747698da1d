/**
 * The Standard Schema v1 interface (standardschema.dev): zod, valibot and arktype schemas all
 * implement it, so a plugin may validate its config section with whichever library it likes.
 * The core validates the section before `create` and reports each issue with its key path
 * (`postgresql.mymethod.max_rate: expected number`); the plugin never sees an invalid section.
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
