/**
 * The PostgreSQL backends an agent keeps connected (its monitoring connection), found by
 * application_name in pg_stat_activity: they run the agent's queries every cycle, so their CPU is a
 * cost of the agent that the agent's own process does not show.
 */
import pg from 'pg';
import { SUPERUSER } from '../../test/helpers/cluster.js';
import { cpuMs } from './proctree.js';

/** PIDs of the backends on this server whose application_name matches `like` (SQL LIKE). */
export async function agentBackends(pgPort: number, like: string): Promise<number[]> {
  const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres', application_name: 'bench-backends' });
  c.on('error', () => undefined); // a FATAL after the answer would otherwise end the bench
  await c.connect();
  try {
    const rows = (await c.query<{ pid: number }>('SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1', [like])).rows;
    return rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
}

/** CPU ms used so far by each of `pids` (a backend that is gone counts as absent). */
export function backendsCpu(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of pids) {
    const ms = cpuMs(p);
    if (ms !== null) out.set(p, ms);
  }
  return out;
}

/** CPU % over `seconds` of the backends present at both readings. */
export function backendsPct(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  let ms = 0;
  for (const [p, was] of before) {
    const now = after.get(p);
    if (now !== undefined) ms += now - was;
  }
  return (100 * ms) / 1000 / seconds;
}
