/** Shared assertions and recorders for the backup suites. */
import { expect } from 'vitest';
import { PluginHost, replicaMethodResolver, type Logger, type ProgressReport, type ReplicaMethodResolver } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { follow, type TestNode } from '../postgres/pg-helpers.js';

export const pluginResolve = replicaMethodResolver(new PluginHost({ config: {} }));

const text = (a: unknown, b?: unknown) => (typeof a === 'string' ? a : `${String(b)} ${JSON.stringify(a)}`);

/** A logger that keeps every message (with its fields as JSON) for assertions. */
export function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    debug() {},
    info(a: unknown, b?: unknown) { lines.push(text(a, b)); },
    warn(a: unknown, b?: unknown) { lines.push(text(a, b)); },
    error(a: unknown, b?: unknown) { lines.push(text(a, b)); },
    child() { return l; },
  };
  return l;
}

/** The plugin resolver with the methods' logger replaced by a recording one. */
export function recordingResolve(lines: string[]): ReplicaMethodResolver {
  return (name, section, ctx) => pluginResolve(name, section, { ...ctx, logger: recordingLogger(lines) });
}

/** Every progress report the controller receives. */
export function recordProgress(node: TestNode): Array<ProgressReport | null> {
  const seen: Array<ProgressReport | null> = [];
  const orig = node.pg.setProgress.bind(node.pg);
  node.pg.setProgress = (p) => { seen.push(p); orig(p); };
  return seen;
}

/** `node` follows `primary` on a slot, replays a fresh row and shows up streaming in pg_stat_replication. */
export async function expectStreaming(primary: TestNode, node: TestNode, table = 't'): Promise<void> {
  const slot = node.name.replace(/-/g, '_');
  await primary.pg.query('SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]);
  expect(await follow(node, primary.member())).toBe(true);
  const marker = `streamed-to-${node.name}-${Date.now()}`;
  await primary.pg.query(`INSERT INTO ${table} VALUES ($1)`, [marker]);
  await waitFor(async () => (await node.pg.query(`SELECT 1 FROM ${table} WHERE v = $1`, [marker]).catch(() => [])).length === 1, 30_000, `${node.name} replays`);
  await waitFor(async () => (await node.pg.status())?.replicationState === 'streaming', 30_000, `${node.name} streams`);
  const rows = (await primary.pg.status())!.replication;
  expect(rows.find((r) => r.applicationName === node.name)).toMatchObject({ state: 'streaming', usename: 'replicator' });
}

export async function values(node: TestNode, table = 't'): Promise<string[]> {
  return (await node.pg.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY v`)).map((r) => r.v);
}
