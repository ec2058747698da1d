/**
 * What a timed-out wait on a test cluster prints, so a failure seen only in CI (where the test's
 * directory is removed) still says what each node was doing: its agent's view (GET /patroni), the
 * primary's pg_stat_replication, and the last lines of the agent's and PostgreSQL's logs.
 */
import { readFileSync } from 'node:fs';
import type { TestNode } from './cluster.js';

const TAIL_LINES = 25;

function tail(path: string, lines = TAIL_LINES): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch (e) {
    return `(cannot read ${path}: ${(e as Error).message})`;
  }
}

async function nodeState(n: TestNode): Promise<string> {
  const out: string[] = [`agent ${n.agentAlive() ? `running (pid ${n.proc!.pid})` : 'not running'}, postmaster ${n.postmasterPid() ?? 'not running'}`];
  try {
    const { body } = await n.get('/patroni');
    out.push(`GET /patroni: ${JSON.stringify({ role: body.role, state: body.state, timeline: body.timeline, xlog: body.xlog, replication_state: body.replication_state, pending_restart: body.pending_restart })}`);
  } catch (e) {
    out.push(`GET /patroni failed: ${(e as Error).message}`);
  }
  try {
    const rows = await n.sql<Record<string, unknown>>('SELECT application_name, state, sent_lsn, replay_lsn FROM pg_stat_replication');
    out.push(`pg_stat_replication: ${JSON.stringify(rows)}`);
  } catch (e) {
    out.push(`pg_stat_replication: ${(e as Error).message}`);
  }
  return out.join('\n');
}

/** Every node's state and log tails, as one block of text. */
export async function diagnose(nodes: readonly TestNode[], postgresLog: (n: TestNode) => string): Promise<string> {
  const parts = await Promise.all(nodes.map(async (n) => [
    `===== ${n.name} =====`, await nodeState(n),
    `--- agent log (${n.logFile}) ---`, tail(n.logFile),
    `--- PostgreSQL log (${postgresLog(n)}) ---`, tail(postgresLog(n)),
  ].join('\n')));
  return parts.join('\n');
}
