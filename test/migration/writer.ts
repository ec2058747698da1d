/**
 * A steady writer for migration tests: one client inserting numbered rows every `intervalMs`, which
 * on any error finds the writable node again (the way an application behind a health-checked proxy
 * would) and goes on. It records every acknowledged row, so a test can report the longest gap
 * between two acknowledged writes and check that every acknowledged row survived.
 */
import pg from 'pg';
import { SUPERUSER } from '../helpers/cluster.js';

export interface WriterReport {
  readonly acked: number;
  /** Longest time between two consecutive acknowledged writes, and when it started. */
  readonly longestGapMs: number;
  readonly longestGapAt: number;
  readonly errors: number;
  /** When each acknowledged write returned (ms since epoch), in order. */
  readonly ackTimes: readonly number[];
}

/** The longest gap between consecutive acknowledgements that starts in [from, to). */
export function longestGapIn(ackTimes: readonly number[], from: number, to: number): number {
  let longest = 0;
  for (let i = 1; i < ackTimes.length; i++) {
    if (ackTimes[i - 1]! >= from && ackTimes[i - 1]! < to) longest = Math.max(longest, ackTimes[i]! - ackTimes[i - 1]!);
  }
  return longest;
}

/** How many of the `acked` ids are missing from `node`'s copy of the writer's table. */
export async function lostOn(node: { sql<T extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> }, acked: readonly number[]): Promise<number> {
  const rows = await node.sql<{ lost: number }>(
    'SELECT count(*)::int AS lost FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM migration_writes w WHERE w.id = a.id)', [acked]);
  return rows[0]!.lost;
}

export class SteadyWriter {
  private running = true;
  private done: Promise<void> | null = null;
  private client: pg.Client | null = null;
  readonly ackedIds: number[] = [];
  private ackTimes: number[] = [];
  private errors = 0;
  private nextId = 1;

  constructor(private readonly ports: readonly number[], private readonly intervalMs = 20) {}

  async start(): Promise<void> {
    const c = await this.connectToPrimary();
    if (!c) throw new Error('the writer found no writable node');
    await c.query('CREATE TABLE IF NOT EXISTS migration_writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    this.client = c;
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t = Date.now();
      const id = this.nextId++;
      try {
        if (!this.client) this.client = await this.connectToPrimary();
        if (this.client) {
          await this.client.query('INSERT INTO migration_writes (id) VALUES ($1)', [id]);
          this.ackedIds.push(id);
          this.ackTimes.push(Date.now());
        }
      } catch {
        this.errors++;
        await this.client?.end().catch(() => undefined);
        this.client = null;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - t))));
    }
  }

  /** The first node that accepts a connection and is not in recovery; null when none does now. */
  private async connectToPrimary(): Promise<pg.Client | null> {
    for (const port of this.ports) {
      // No server-side statement_timeout: in synchronous mode a commit cancelled while it waits for the
      // standby is reported as a success (with a warning) though it may not be replicated; the
      // client-side query_timeout drops the connection instead, so such a write is never counted.
      const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres', connectionTimeoutMillis: 500, query_timeout: 3000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0]?.r === false) return c;
      } catch { /* next */ }
      await c.end().catch(() => undefined);
    }
    return null;
  }

  async stop(): Promise<WriterReport> {
    this.running = false;
    await this.done;
    await this.client?.end().catch(() => undefined);
    let longestGapMs = 0;
    let longestGapAt = 0;
    for (let i = 1; i < this.ackTimes.length; i++) {
      const gap = this.ackTimes[i]! - this.ackTimes[i - 1]!;
      if (gap > longestGapMs) [longestGapMs, longestGapAt] = [gap, this.ackTimes[i - 1]!];
    }
    return { acked: this.ackedIds.length, longestGapMs, longestGapAt, errors: this.errors, ackTimes: this.ackTimes };
  }
}
