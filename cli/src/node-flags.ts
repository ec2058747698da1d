/**
 * The Node flags a pgha command file asks for on its `#!/usr/bin/env -S node ...` line, for
 * whoever starts it as `node FILE` (the demo's supervisor, the tests' clusters), so the agent runs
 * the same way as when the file is executed.
 */
import { readFileSync } from 'node:fs';

export function nodeFlagsOf(file: string): string[] {
  let first: string;
  try {
    first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return [];
  }
  const m = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first.trim());
  return m ? m[1]!.split(/\s+/).filter((a) => a.startsWith('--')) : [];
}
