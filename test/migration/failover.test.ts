/**
 * Crash failover across kinds (issue 19): when a leader node dies (agent and postmaster killed, no
 * key released), a Patroni 3.0.2 replica and a pgha replica race for the leader key, and the one
 * with more WAL wins by the same rules on both sides (each asks the other's GET /patroni). The
 * lagging replica is made to lag by freezing its WAL receiver (SIGSTOP) while the leader writes.
 *   1. Patroni leader dies; pgha replica ahead of the Patroni replica → the pgha node leads.
 *   2. The crashed node comes back as pgha (a migration step); then the pgha leader dies with that
 *      pgha replica behind the Patroni replica → the Patroni node leads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { MixedCluster, type MixedNode } from './mixed-cluster.js';

let c: MixedCluster;

async function lsnOf(n: MixedNode, fn: 'pg_current_wal_lsn()' | 'pg_last_wal_receive_lsn()'): Promise<bigint> {
  const rows = await n.sql<{ l: string }>(`SELECT (${fn} - '0/0'::pg_lsn)::text AS l`);
  return BigInt(rows[0]!.l);
}

/** Freeze `lagging`'s WAL receiver, write on `leader` until `ahead` has WAL `lagging` lacks; the thaw function. */
async function makeLag(leader: MixedNode, ahead: MixedNode, lagging: MixedNode): Promise<() => void> {
  const pid = Number((await lagging.sql<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver'))[0]?.pid);
  expect(pid, `${lagging.name} has a WAL receiver`).toBeGreaterThan(0);
  process.kill(pid, 'SIGSTOP');
  const thaw = () => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } };
  try {
    await leader.sql('CREATE TABLE IF NOT EXISTS lag_maker (i int, pad text)');
    await leader.sql("INSERT INTO lag_maker SELECT g, repeat('x', 200) FROM generate_series(1, 1000) g");
    const target = await lsnOf(leader, 'pg_current_wal_lsn()');
    await waitFor(async () => (await lsnOf(ahead, 'pg_last_wal_receive_lsn()')) >= target, 30_000, `${ahead.name} received up to the leader's LSN`);
    expect(await lsnOf(lagging, 'pg_last_wal_receive_lsn()')).toBeLessThan(target);
    return thaw;
  } catch (e) {
    thaw();
    throw e;
  }
}

/** The leader's member name in the DCS history's last line and in both tools' lists. */
async function expectLeaderEverywhere(name: string): Promise<void> {
  for (const tool of ['patronictl', 'pgha'] as const) {
    await waitFor(async () => (await c.list(tool)).find((r) => r.Role === 'Leader')?.Member === name, 60_000, `${tool} list: ${name} leads`);
  }
}

describe('crash failover between Patroni 3.0.2 and pgha replicas', () => {
  beforeAll(async () => {
    c = await MixedCluster.start(['patroni', 'pgha', 'patroni']);
    await c.waitStreaming(c.node('node1'), 150_000);
  }, 240_000);

  afterAll(async () => { await c?.stop(); }, 120_000);

  it('the Patroni leader crashes: the more advanced pgha replica wins the race against the Patroni replica', async () => {
    const [leader, pgha, patroni] = [c.node('node1'), c.node('node2'), c.node('node3')];
    const thaw = await makeLag(leader, pgha, patroni);
    try {
      await leader.crash();
      const next = await c.waitLeader(null, 90_000);
      expect(next.name).toBe('node2');
      expect((await patroni.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    } finally {
      thaw();
    }
    await c.waitListed('patronictl', c.healthyRows('patronictl', 'node2', ['node2', 'node3']), 90_000, patroni);
    expect((await pgha.sql('SELECT count(*)::int AS n FROM lag_maker'))[0]).toEqual({ n: 1000 });
    await waitFor(async () => (await patroni.sql<{ n: number }>('SELECT count(*)::int AS n FROM lag_maker'))[0]?.n === 1000, 60_000, 'node3 caught up');
  }, 180_000);

  it('the crashed Patroni node comes back as pgha and rejoins; then the pgha leader crashes and the more advanced Patroni replica wins', async () => {
    const [back, leader, patroni] = [c.node('node1'), c.node('node2'), c.node('node3')];
    back.start('pgha');
    await c.waitStreaming(leader, 150_000);
    await c.waitListed('pgha', c.healthyRows('pgha', 'node2'), 60_000, back);

    const thaw = await makeLag(leader, patroni, back);
    try {
      await leader.crash();
      const next = await c.waitLeader(null, 90_000);
      expect(next.name).toBe('node3');
      expect((await back.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    } finally {
      thaw();
    }
    await expectLeaderEverywhere('node3');
    await waitFor(async () => (await back.sql<{ n: number }>('SELECT count(*)::int AS n FROM lag_maker'))[0]?.n === 2000, 60_000, 'node1 caught up');
    // The crashed pgha leader restarts as pgha and follows the Patroni leader (pg_rewind if needed).
    leader.start('pgha');
    await c.waitStreaming(patroni, 150_000);
    await c.waitListed('patronictl', c.healthyRows('patronictl', 'node3'), 60_000);
    await c.waitListed('pgha', c.healthyRows('pgha', 'node3'), 30_000);
  }, 240_000);
});
