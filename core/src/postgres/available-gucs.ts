/**
 * The configuration parameters the installed PostgreSQL knows (`postgres --describe-config`), to
 * validate `postgresql.parameters` against the running major version as Patroni does: a name the
 * server does not know would make it refuse to start, so it is removed with a warning instead
 * ("Removing unexpected parameter=... from the config"). Extension GUCs (`name.with.dot`) pass.
 */
import { spawnSync } from 'node:child_process';
import type { RunAs } from './exec.js';

const cache = new Map<string, ReadonlySet<string> | null>();

/** Lower-cased GUC names, or null when the binary cannot tell (then nothing is filtered). */
export function availableGucs(postgresBin: string, runAs: RunAs | null): ReadonlySet<string> | null {
  if (cache.has(postgresBin)) return cache.get(postgresBin)!;
  let names: ReadonlySet<string> | null = null;
  try {
    const r = spawnSync(postgresBin, ['--describe-config'], {
      encoding: 'utf8', timeout: 10_000, maxBuffer: 4 * 1024 * 1024,
      ...(runAs && process.getuid?.() === 0 ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    if (r.status === 0 && r.stdout) {
      const set = new Set(r.stdout.split('\n').map((l) => l.split('\t')[0]!.trim().toLowerCase()).filter(Boolean));
      if (set.size > 50) names = set;
    }
  } catch {
    names = null;
  }
  cache.set(postgresBin, names);
  return names;
}

/** Drop parameters the server does not know; `warn` gets Patroni's message for each. */
export function knownParameters(params: Readonly<Record<string, unknown>>, available: ReadonlySet<string> | null,
  warn: (message: string) => void): Record<string, unknown> {
  if (!available) return { ...params };
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name.includes('.') || available.has(name.toLowerCase())) out[name] = value;
    else warn(`Removing unexpected parameter=${name} value=${String(value)} from the config`);
  }
  return out;
}
