/**
 * Physical slots as Patroni 4.1 keeps them (etcd, PostgreSQL 15, 3 agents): with member_slots_ttl
 * every node holds a slot for every other member and a permanent physical slot, the copies on the
 * replicas advanced from the positions the leader publishes in /status (so WAL does not pile up
 * there); a member that goes away keeps its slots for member_slots_ttl (/status retain_slots), then
 * they are dropped; ignore_slots protects slots matching any subset of name/type/database/plugin,
 * while other unknown slots are dropped.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';

const MEMBER_SLOTS_TTL = 40;
let cluster: TestCluster;

async function slots(node: TestNode): Promise<Map<string, { type: string; lsn: bigint }>> {
  const rows = await node.sql<{ n: string; t: string; l: string | null }>(
    "SELECT slot_name AS n, slot_type AS t, pg_wal_lsn_diff(COALESCE(confirmed_flush_lsn, restart_lsn), '0/0')::text AS l FROM pg_replication_slots");
  return new Map(rows.map((r) => [r.n, { type: r.t, lsn: BigInt(r.l ?? '0') }]));
}

async function dcs(key: string): Promise<string | null> {
  const client = new Etcd3({ hosts: [...cluster.etcd.endpoints] });
  try {
    return await client.get(`/service/${cluster.scope}/${key}`).string();
  } finally {
    client.close();
  }
}

describe('member and permanent physical slots, member_slots_ttl, ignore_slots', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      dynamic: {
        member_slots_ttl: MEMBER_SLOTS_TTL,
        slots: { archiver: { type: 'physical' } },
        ignore_slots: [{ name: 'external_keep' }, { type: 'logical', plugin: 'pgoutput' }],
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'logical', wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10 } },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('every node keeps slots for the other members and the permanent slot; replicas advance their copies', async () => {
    const leader = await cluster.waitHealthy(2, 120_000);
    const [r1, r2] = cluster.nodes.filter((n) => n !== leader) as [TestNode, TestNode];
    for (const n of cluster.nodes) {
      const want = ['archiver', ...cluster.nodes.filter((x) => x !== n).map((x) => x.name)].sort();
      await waitFor(async () => JSON.stringify([...(await slots(n)).keys()].sort()) === JSON.stringify(want), 60_000, `${n.name} slots ${want}`);
    }
    await leader.sql('CREATE TABLE IF NOT EXISTS s (v text)');
    for (let i = 0; i < 5; i++) await leader.sql("INSERT INTO s SELECT repeat('x', 1000) FROM generate_series(1, 2000)");
    await leader.sql('CHECKPOINT');
    // The leader's slot for r2 moves as r2 streams; r1's copy of it follows the published position.
    const target = (await slots(leader)).get(r2.name)!.lsn;
    const status = await waitFor(async () => { const s = JSON.parse((await dcs('status')) ?? '{}'); return BigInt(s.slots?.[r2.name] ?? 0) >= target ? s : null; }, 30_000, '/status to publish the slot of r2');
    expect(Object.keys(status.slots)).toEqual(expect.arrayContaining([leader.name, r1.name, r2.name, 'archiver']));
    await waitFor(async () => ((await slots(r1)).get(r2.name)?.lsn ?? 0n) >= target, 30_000, `${r1.name}'s copy of slot ${r2.name} to advance`);
    // The copy of the leader's own slot follows the leader's WAL position.
    await waitFor(async () => ((await slots(r1)).get(leader.name)?.lsn ?? 0n) >= target, 30_000, `${r1.name}'s copy of slot ${leader.name} to advance`);
    // The permanent slot's consumer (a WAL archiver, simulated) moves it on the leader: the copies follow, so
    // WAL does not pile up on the replicas either.
    await leader.sql("SELECT pg_replication_slot_advance('archiver', pg_current_wal_lsn())");
    const archiver = (await slots(leader)).get('archiver')!.lsn;
    for (const n of [r1, r2]) await waitFor(async () => ((await slots(n)).get('archiver')?.lsn ?? 0n) >= archiver, 30_000, `${n.name}'s archiver to reach the leader's position`);
  }, 240_000);

  it('ignore_slots keeps matching slots; other unknown slots are dropped', async () => {
    const leader = await cluster.waitHealthy(2, 60_000);
    await leader.sql("SELECT pg_create_physical_replication_slot('external_keep', true)");
    await leader.sql("SELECT pg_create_logical_replication_slot('debezium', 'pgoutput')");
    await leader.sql("SELECT pg_create_physical_replication_slot('stray', true)");
    await leader.sql("SELECT pg_create_logical_replication_slot('stray_logical', 'test_decoding')");
    await waitFor(async () => { const s = await slots(leader); return !s.has('stray') && !s.has('stray_logical'); }, 30_000, 'unknown slots dropped');
    const left = await slots(leader);
    expect(left.has('external_keep')).toBe(true);
    expect(left.has('debezium')).toBe(true);
  }, 120_000);

  it('a member that goes away keeps its slots for member_slots_ttl, then they are dropped', async () => {
    const leader = await cluster.waitHealthy(2, 60_000);
    const [r1, gone] = cluster.nodes.filter((n) => n !== leader) as [TestNode, TestNode];
    await gone.stopAgent();
    const t0 = Date.now();
    await waitFor(async () => (await dcs(`members/${gone.name}`)) === null, 60_000, `${gone.name}'s member key to expire`);
    const retain = JSON.parse((await dcs('status')) ?? '{}').retain_slots as string[];
    expect(retain).toContain(gone.name);
    expect((await slots(leader)).has(gone.name)).toBe(true);
    expect((await slots(r1)).has(gone.name)).toBe(true);
    await waitFor(async () => !(await slots(leader)).has(gone.name) && !(await slots(r1)).has(gone.name), 120_000, `${gone.name}'s slots to be dropped`);
    // Not before member_slots_ttl after it was last seen (the agent stopped at t0).
    expect(Date.now() - t0).toBeGreaterThan((MEMBER_SLOTS_TTL - 5) * 1000);
    expect(JSON.parse((await dcs('status')) ?? '{}').retain_slots ?? []).not.toContain(gone.name);
    gone.start();
    await cluster.waitHealthy(2, 120_000);
    await waitFor(async () => (await slots(leader)).has(gone.name), 30_000, `${gone.name}'s slot back on the leader`);
  }, 300_000);
});
