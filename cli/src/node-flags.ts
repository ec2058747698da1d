/**
 * How a pgha command file asks to be run, from its `#!/usr/bin/env -S [NAME=VALUE ...] node [--flag ...]`
 * line, for whoever starts it as `node FILE` (the demo's supervisor, the tests' clusters): the
 * agent then runs the same way as when the file is executed.
 */
import { readFileSync } from 'node:fs';

export interface NodeLaunch {
  /** Environment the line sets before Node starts. */
  readonly env: Readonly<Record<string, string>>;
  /** Node/V8 flags, before the file on the command line. */
  readonly flags: readonly string[];
}

export function launchOf(file: string): NodeLaunch {
  let first: string;
  try {
    first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return { env: {}, flags: [] };
  }
  const m = /^#!\S*env\s+-S\s+(.*)$/.exec(first.trim());
  if (!m) return { env: {}, flags: [] };
  const words = m[1]!.split(/\s+/);
  const at = words.indexOf('node');
  if (at < 0) return { env: {}, flags: [] };
  const env: Record<string, string> = {};
  for (const w of words.slice(0, at)) {
    const eq = w.indexOf('=');
    if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return { env, flags: words.slice(at + 1).filter((a) => a.startsWith('--')) };
}
