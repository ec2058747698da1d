/** Turn zod issues into `{path, message}` pairs that name the key: `postgresql.listen: expected string`. */
import type { z } from 'zod';

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

const TYPE_NAMES: Record<string, string> = { int: 'integer', record: 'mapping', object: 'mapping', array: 'list' };

function typeName(t: unknown): string {
  return TYPE_NAMES[String(t)] ?? String(t);
}

/** Collect the types a union accepts from its branches' issues. */
function unionExpectation(errors: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>): string | undefined {
  const expected = new Set<string>();
  for (const branch of errors) {
    for (const i of branch) {
      if (i.code === 'invalid_type' && (i.path as unknown[] | undefined)?.length === 0) expected.add(typeName(i.expected));
      else if (i.code === 'invalid_value' && Array.isArray(i.values)) i.values.forEach((v) => expected.add(JSON.stringify(v)));
    }
  }
  return expected.size ? `expected ${[...expected].join(' or ')}` : undefined;
}

/** zod per-parse error map: short messages operators can act on. */
export function configErrorMap(iss: { code?: string; input?: unknown } & Record<string, unknown>): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? 'required' : `expected ${typeName(iss.expected)}`;
    case 'invalid_value':
      return `expected one of ${(iss.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return unionExpectation((iss.errors as Array<Array<Record<string, unknown>>>) ?? []);
    case 'too_small':
      return `must be at least ${String(iss.minimum)}`;
    case 'too_big':
      return `must be at most ${String(iss.maximum)}`;
    default:
      return undefined;
  }
}

export function joinPath(parts: ReadonlyArray<PropertyKey>): string {
  return parts.map(String).join('.');
}

export function issuesFromZod(error: z.ZodError, prefix: ReadonlyArray<string> = []): ConfigIssue[] {
  return error.issues.map((i) => ({ path: joinPath([...prefix, ...i.path]), message: i.message }));
}
