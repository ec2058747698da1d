/**
 * Which nodes acknowledge a commit right now, every 100 ms. A node counts as writable when an
 * INSERT's COMMIT returns success within 500 ms. No statement_timeout: PostgreSQL answers a
 * cancelled synchronous-replication wait with success for a commit no standby has, which would
 * make a primary whose commits are blocked look writable; a slow commit is abandoned client-side.
 */
import pg from 'pg';
import { SUPERUSER, type TestCluster, type TestNode } from '../helpers/cluster.js';

export const PROBE_TABLE = 'chaos_probe';

export interface Sample { readonly t: number; readonly writable: readonly string[] }

export interface CommitProbe {
  readonly samples: Sample[];
  stop(): Promise<void>;
}

class NodeProbe {
  private client: pg.Client | null = null;
  constructor(private readonly n: TestNode) {}

  private drop(): void {
    const c = this.client;
    this.client = null;
    if (!c) return;
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void c.end().catch(() => undefined);
  }

  async writable(timeoutMs: number): Promise<boolean> {
    const attempt = (async () => {
      if (!this.client) {
        const c = new pg.Client({ host: this.n.host, port: this.n.pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres', connectionTimeoutMillis: timeoutMs });
        c.on('error', () => undefined);
        this.client = c;
        await c.connect();
      }
      await this.client.query(`INSERT INTO ${PROBE_TABLE} VALUES (now())`);
      return true;
    })().catch(() => {
      this.drop();
      return false;
    });
    const ok = await Promise.race([attempt, new Promise<false>((r) => setTimeout(() => r(false), timeoutMs))]);
    if (!ok) this.drop();
    return ok;
  }

  close(): void { this.drop(); }
}

export async function createProbeTable(leader: TestNode): Promise<void> {
  await leader.sql(`CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (t timestamptz)`);
}

export function startProbe(cluster: TestCluster, intervalMs = 100): CommitProbe {
  const samples: Sample[] = [];
  const probes = cluster.nodes.map((n) => ({ name: n.name, p: new NodeProbe(n) }));
  let running = true;
  const done = (async () => {
    while (running) {
      const t = Date.now();
      const ok = await Promise.all(probes.map(async ({ name, p }) => ((await p.writable(500)) ? name : null)));
      samples.push({ t, writable: ok.filter((x): x is string => !!x) });
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - t))));
    }
    for (const { p } of probes) p.close();
  })();
  return { samples, async stop() { running = false; await done; } };
}

/** Runs of consecutive samples in [from, to] in which more than one node acknowledged a commit. */
export function dualWindows(samples: readonly Sample[], from: number, to: number): Array<{ start: number; end: number; nodes: string[] }> {
  const out: Array<{ start: number; end: number; nodes: string[] }> = [];
  let cur: { start: number; end: number; nodes: string[] } | null = null;
  for (const s of samples) {
    if (s.t < from || s.t > to) continue;
    if (s.writable.length > 1) {
      if (cur) { cur.end = s.t; cur.nodes = [...new Set([...cur.nodes, ...s.writable])]; } else cur = { start: s.t, end: s.t, nodes: [...s.writable] };
    } else if (cur) {
      out.push(cur);
      cur = null;
    }
  }
  if (cur) out.push(cur);
  return out;
}
