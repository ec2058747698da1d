/**
 * npm run bench:failover — prints figures, asserts nothing.
 * A 3-node cluster (etcd, PostgreSQL 15, ttl 20, loop_wait 1) with a writer inserting a row every
 * 10 ms into whichever node accepts writes. For each scenario: the longest gap between acknowledged
 * writes, seconds during which two nodes accepted writes, and acknowledged writes missing from the
 * final primary (lost). Scenarios: switchover, graceful stop (SIGTERM), crash (SIGKILL agent and
 * postmaster), agent kill (SIGKILL agent only: the fence case).
 */
import pg from 'pg';
import { TestCluster, SUPERUSER, type TestNode } from '../test/helpers/cluster.js';
import { waitFor } from '../test/helpers/procs.js';

const opts = (n: TestNode, timeoutMs = 400): pg.ClientConfig => ({
  host: '127.0.0.1', port: n.pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres',
  connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs,
});

/** Row ids are unique across scenarios (the table has a primary key). */
let nextId = 0;

class Writer {
  acked: Array<{ id: number; t: number; node: string }> = [];
  private running = true;
  private done: Promise<void> | null = null;
  private client: { c: pg.Client; node: TestNode } | null = null;

  constructor(private readonly cluster: TestCluster) {}

  private async connect(): Promise<void> {
    for (const n of this.cluster.nodes) {
      const c = new pg.Client(opts(n, 300));
      c.on('error', () => undefined); // a terminated idle connection must not crash the bench
      try {
        await c.connect();
        const r = await c.query('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0].r === false) { this.client = { c, node: n }; return; }
      } catch { /* next */ }
      c.end().catch(() => undefined);
    }
  }

  start(): void {
    this.done = (async () => {
      while (this.running) {
        const t = Date.now();
        if (!this.client) await this.connect();
        if (this.client) {
          const id = ++nextId;
          try {
            await this.client.c.query('INSERT INTO bench (id) VALUES ($1)', [id]);
            this.acked.push({ id, t: Date.now(), node: this.client.node.name });
          } catch {
            this.client.c.end().catch(() => undefined);
            this.client = null;
          }
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 10 - (Date.now() - t))));
      }
      this.client?.c.end().catch(() => undefined);
    })();
  }

  async stop(): Promise<void> { this.running = false; await this.done; }

  /** Longest gap between consecutive acknowledged writes, counting from the last one before `from`. */
  maxGapMs(from: number): number {
    const before = this.acked.filter((a) => a.t < from).at(-1);
    const ts = [...(before ? [before.t] : []), ...this.acked.filter((a) => a.t >= from).map((a) => a.t)];
    let gap = 0;
    for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
    return gap;
  }
}

/** Seconds during which writes were acknowledged by two different nodes within one 100 ms window. */
function dualPrimarySeconds(acked: Writer['acked'], from: number): number {
  const buckets = new Map<number, Set<string>>();
  for (const a of acked) if (a.t >= from) {
    const b = Math.floor(a.t / 100);
    buckets.set(b, (buckets.get(b) ?? new Set()).add(a.node));
  }
  return [...buckets.values()].filter((s) => s.size > 1).length * 0.1;
}

async function lost(cluster: TestCluster, acked: Writer['acked'], from: number): Promise<number> {
  const leader = await cluster.waitHealthy(2, 180_000);
  const c = new pg.Client(opts(leader, 5000));
  c.on('error', () => undefined);
  await c.connect();
  const ids = new Set((await c.query('SELECT id FROM bench')).rows.map((r) => Number(r.id)));
  await c.end();
  return acked.filter((a) => a.t >= from && !ids.has(a.id)).length;
}

async function scenario(cluster: TestCluster, name: string, act: (leader: TestNode) => Promise<void>): Promise<void> {
  const leader = await cluster.waitHealthy(2, 180_000);
  const w = new Writer(cluster);
  w.start();
  await new Promise((r) => setTimeout(r, 2000));
  const t0 = Date.now();
  await act(leader);
  await waitFor(async () => {
    const name2 = await cluster.leaderName();
    return name2 && name2 !== leader.name && w.acked.some((a) => a.t > t0 && a.node === name2) ? name2 : null;
  }, 120_000, 'writes on the new primary', 200);
  // The old primary's agent comes back (it rejoins as a replica) once the new primary took writes.
  if (!leader.agentAlive()) leader.start();
  await new Promise((r) => setTimeout(r, 2000));
  await w.stop();
  const lostWrites = await lost(cluster, w.acked, t0);
  const newLeader = await cluster.leaderName();
  const firstOnNew = w.acked.find((a) => a.t > t0 && a.node === newLeader);
  const row = { scenario: name, new_primary_first_write_after_s: firstOnNew ? +((firstOnNew.t - t0) / 1000).toFixed(3) : null, longest_write_gap_s: +(w.maxGapMs(t0) / 1000).toFixed(3), two_writable_primaries_s: +dualPrimarySeconds(w.acked, t0).toFixed(1), lost_acknowledged_writes: lostWrites, acknowledged: w.acked.filter((a) => a.t >= t0).length };
  console.log(JSON.stringify(row));
}

async function main(): Promise<void> {
  const cluster = await TestCluster.start({ nodes: 3, restapiAuth: { username: 'admin', password: 'bench' } });
  const auth = 'Basic ' + Buffer.from('admin:bench').toString('base64');
  try {
    const leader = await cluster.waitHealthy(2, 180_000);
    await leader.sql('CREATE TABLE bench (id bigint PRIMARY KEY, at timestamptz DEFAULT now())');
    await scenario(cluster, 'switchover', async (l) => {
      const other = cluster.nodes.find((n) => n !== l)!;
      const res = await fetch(`${l.apiUrl}/switchover`, { method: 'POST', headers: { authorization: auth }, body: JSON.stringify({ leader: l.name, candidate: other.name }) });
      await res.text();
    });
    await scenario(cluster, 'graceful stop (SIGTERM agent)', async (l) => {
      l.signalAgent('SIGTERM');
      await l.proc!.exited;
    });
    await scenario(cluster, 'crash (SIGKILL agent + postmaster)', async (l) => {
      const pm = l.postmasterPid();
      l.signalAgent('SIGKILL');
      if (pm) process.kill(pm, 'SIGKILL');
      await l.proc!.exited;
    });
    await scenario(cluster, 'agent kill (SIGKILL agent only; fence)', async (l) => {
      l.signalAgent('SIGKILL');
      await l.proc!.exited;
    });
  } finally {
    await cluster.stop();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
