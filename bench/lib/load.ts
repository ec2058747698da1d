/**
 * The two clients that watch a scenario:
 * - Writer: inserts a row every 10 ms into whichever node accepts writes; after any error it moves on
 *   to the next node that does. Every acknowledged id is recorded with its node and time, from the
 *   first write, so lost writes and the longest write gap cover the whole scenario.
 * - Probe: tries a write against EVERY node every 100 ms on a per-node connection with a statement
 *   and client timeout (a frozen or fenced server reads as "no write"). Two nodes acknowledging the
 *   probe write within the same 100 ms window (by acknowledgement time) = two writable primaries.
 */
import pg from 'pg';
import { SUPERUSER, type TestNode } from '../../test/helpers/cluster.js';

export const WRITE_TABLE = 'bench';
export const PROBE_TABLE = 'bench_probe';
export const TICK_MS = 100;

export function clientConfig(n: TestNode, timeoutMs: number): pg.ClientConfig {
  return {
    host: '127.0.0.1', port: n.pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres',
    connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs + 100, statement_timeout: timeoutMs,
    application_name: 'pgha-bench',
  };
}

async function open(n: TestNode, timeoutMs: number): Promise<pg.Client> {
  const c = new pg.Client(clientConfig(n, timeoutMs));
  c.on('error', () => undefined); // a terminated idle connection must not crash the bench
  try {
    await c.connect();
    return c;
  } catch (e) {
    c.end().catch(() => undefined);
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Row ids are unique for the whole bench (the table has a primary key); never reused, acked or not. */
let nextId = 0;

export interface Ack { readonly id: number; readonly t: number; readonly node: string }

export class Writer {
  readonly acked: Ack[] = [];
  errors = 0;
  private running = true;
  private done: Promise<void> | null = null;
  private current: { c: pg.Client; node: TestNode } | null = null;
  private cursor = 0;

  constructor(private readonly nodes: readonly TestNode[], private readonly timeoutMs = 500) {}

  start(): this {
    this.done = this.loop();
    return this;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t = Date.now();
      if (!this.current) {
        // One candidate per tick, round robin: a dead node costs one tick, a frozen one a timeout.
        const node = this.nodes[this.cursor++ % this.nodes.length]!;
        try { this.current = { c: await open(node, this.timeoutMs), node }; } catch { /* next tick, next node */ }
      }
      if (this.current) {
        const id = ++nextId;
        try {
          await this.current.c.query(`INSERT INTO ${WRITE_TABLE} (id) VALUES ($1)`, [id]);
          this.acked.push({ id, t: Date.now(), node: this.current.node.name });
        } catch {
          this.errors++;
          this.current.c.end().catch(() => undefined);
          this.current = null;
        }
      }
      await sleep(Math.max(0, 10 - (Date.now() - t)));
    }
    this.current?.c.end().catch(() => undefined);
    this.current = null;
  }

  async stop(): Promise<void> { this.running = false; await this.done; }

  /** Longest gap in ms between consecutive acknowledged writes (from the first). */
  maxGap(): { ms: number; at: number | null } {
    let best = { ms: 0, at: null as number | null };
    for (let i = 1; i < this.acked.length; i++) {
      const g = this.acked[i]!.t - this.acked[i - 1]!.t;
      if (g > best.ms) best = { ms: g, at: this.acked[i - 1]!.t };
    }
    return best;
  }
}

export interface ProbeSample { readonly node: string; readonly tick: number; readonly ok: boolean }

export class Probe {
  readonly samples: ProbeSample[] = [];
  private running = true;
  private done: Promise<void> | null = null;

  constructor(private readonly nodes: readonly TestNode[], private readonly timeoutMs = 300) {}

  start(): this {
    this.done = Promise.all(this.nodes.map((n) => this.loop(n))).then(() => undefined);
    return this;
  }

  /** One loop per node, aligned to global 100 ms ticks, so a slow node never delays the others. */
  private async loop(n: TestNode): Promise<void> {
    let c: pg.Client | null = null;
    while (this.running) {
      const tick = Math.floor(Date.now() / TICK_MS);
      let ok = false;
      try {
        c ??= await open(n, this.timeoutMs);
        await c.query(`INSERT INTO ${PROBE_TABLE} (node) VALUES ($1)`, [n.name]);
        ok = true;
      } catch {
        c?.end().catch(() => undefined);
        c = null;
      }
      // The window is the one in which the write was acknowledged (a slow answer lands in a later one).
      this.samples.push({ node: n.name, tick: ok ? Math.floor(Date.now() / TICK_MS) : tick, ok });
      await sleep(Math.max(0, (tick + 1) * TICK_MS - Date.now()));
    }
    c?.end().catch(() => undefined);
  }

  async stop(): Promise<void> { this.running = false; await this.done; }

  /** Ticks in which two or more nodes acknowledged their probe write, with the nodes. */
  dualWindows(): Array<{ t: number; nodes: string[] }> {
    const byTick = new Map<number, Set<string>>();
    for (const s of this.samples) if (s.ok) byTick.set(s.tick, (byTick.get(s.tick) ?? new Set()).add(s.node));
    return [...byTick].filter(([, s]) => s.size > 1).map(([tick, s]) => ({ t: tick * TICK_MS, nodes: [...s].sort() }));
  }

  /** Time of the first probe write `node` acknowledged at or after `since`, or null. */
  firstWrite(node: string, since: number): number | null {
    const tick = Math.floor(since / TICK_MS);
    const s = this.samples.find((x) => x.ok && x.node === node && x.tick >= tick);
    return s ? s.tick * TICK_MS : null;
  }

  /** Did `node` acknowledge a probe write at or after time `since`? */
  wrote(node: string, since: number): boolean {
    const tick = Math.floor(since / TICK_MS);
    return this.samples.some((s) => s.ok && s.node === node && s.tick >= tick);
  }
}

/** Ids in `acked` that the table on `n` lacks. */
export async function missingIds(n: TestNode, acked: readonly Ack[]): Promise<number[]> {
  if (!acked.length) return [];
  const c = await open(n, 10_000);
  try {
    // Ids are handed out in increasing order, so the acknowledged ones are sorted.
    const lo = acked[0]!.id;
    const hi = acked[acked.length - 1]!.id;
    const rows = (await c.query(`SELECT id FROM ${WRITE_TABLE} WHERE id BETWEEN $1 AND $2`, [lo, hi])).rows;
    const have = new Set(rows.map((r) => Number(r.id)));
    return acked.filter((a) => !have.has(a.id)).map((a) => a.id);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createTables(leader: TestNode): Promise<void> {
  await leader.sql(`CREATE TABLE IF NOT EXISTS ${WRITE_TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
  await leader.sql(`CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (node text, at timestamptz DEFAULT now())`);
}
