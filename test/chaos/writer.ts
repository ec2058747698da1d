/**
 * The acknowledged-write ledger: a client that commits numbered rows on whichever node holds the
 * leader key (asked over REST), one at a time, and records the ids PostgreSQL acknowledged.
 *
 * A commit counts as acknowledged only when COMMIT returned success. No statement_timeout: a
 * cancelled wait for a synchronous standby returns success for a commit the standby never got
 * (PostgreSQL's "canceling wait for synchronous replication"); a slow commit is abandoned by closing
 * the connection client-side instead, which never reports success.
 */
import pg from 'pg';
import { SUPERUSER, type TestCluster, type TestNode } from '../helpers/cluster.js';

export const LEDGER_TABLE = 'acked_writes';

export interface Writer {
  /** Ids whose COMMIT returned success, with the node that acknowledged them. */
  readonly acked: Map<number, string>;
  /** Commits abandoned or failed (not acknowledged; they may or may not be there). */
  readonly unacked: number;
  /** Pause writing (during checks) and resume. */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

async function connect(n: TestNode, timeoutMs: number): Promise<pg.Client> {
  const c = new pg.Client({ host: n.host, port: n.pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres', connectionTimeoutMillis: timeoutMs });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Create the ledger table on the leader (replicated to everyone). */
export async function createLedger(leader: TestNode): Promise<void> {
  await leader.sql(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
}

/** Start writing; `commitTimeoutMs` bounds one commit (then the connection is dropped, unacknowledged). */
export function startWriter(cluster: TestCluster, o: { commitTimeoutMs?: number; intervalMs?: number; firstId?: number } = {}): Writer {
  const acked = new Map<number, string>();
  let unacked = 0;
  let running = true;
  let paused = false;
  let idle: (() => void) | null = null;
  let next = o.firstId ?? 1;
  let client: pg.Client | null = null;
  let target: TestNode | null = null;
  const timeout = o.commitTimeoutMs ?? 3000;
  const drop = () => {
    const c = client;
    client = null;
    target = null;
    if (c) {
      // Destroy the socket: the server sees the client gone, and we never read a late success.
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      void c.end().catch(() => undefined);
    }
  };
  const done = (async () => {
    while (running) {
      if (paused) {
        idle?.();
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        if (!client) {
          const name = await Promise.race([cluster.leaderName(), new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
          if (!name) throw new Error('no leader');
          target = cluster.node(name);
          client = await connect(target, 1000);
        }
        const id = next++;
        const c = client;
        const node = target!.name;
        const ok = await Promise.race([
          c.query(`INSERT INTO ${LEDGER_TABLE} (id) VALUES ($1)`, [id]).then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), timeout)),
        ]);
        if (ok) acked.set(id, node);
        else {
          unacked += 1;
          drop();
        }
      } catch {
        unacked += 1;
        drop();
        await new Promise((r) => setTimeout(r, 100));
      }
      if (o.intervalMs) await new Promise((r) => setTimeout(r, o.intervalMs));
    }
    drop();
  })();
  return {
    acked,
    get unacked() { return unacked; },
    async pause() {
      paused = true;
      await new Promise<void>((r) => { idle = r; });
      idle = null;
    },
    resume() { paused = false; },
    async stop() { running = false; paused = false; await done; },
  };
}

/** Acknowledged ids missing on `node` (which should be the healed leader, or a caught-up replica). */
export async function missingWrites(node: TestNode, acked: Map<number, string>): Promise<number[]> {
  if (!acked.size) return [];
  const rows = await node.sql<{ id: string }>(`SELECT id::text FROM ${LEDGER_TABLE} WHERE id = ANY($1::bigint[])`, [[...acked.keys()]]);
  const have = new Set(rows.map((r) => Number(r.id)));
  return [...acked.keys()].filter((id) => !have.has(id)).sort((a, b) => a - b);
}
