/**
 * Permanent logical slots survive a failover (Patroni 4.1 on PostgreSQL 15, which has no failover
 * slots): the leader creates the slot and publishes its position in /status `slots`; replicas copy
 * the slot's state file from the primary (restarting), then advance their copy to each published
 * position. A test_decoding consumer (SQL) reads changes on the primary; the primary is killed; the
 * consumer continues on the new primary and has seen every committed change exactly once.
 * Real etcd, real PostgreSQL 15, 3 `pgha run` agents.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';

let cluster: TestCluster;
const seen: number[] = [];

const SLOTS = { cdc: { type: 'logical', database: 'postgres', plugin: 'test_decoding' }, archiver: { type: 'physical' } };

/** One consumer call: every change since the slot's position, confirmed at once (test_decoding via SQL). */
async function consume(node: TestNode): Promise<number[]> {
  const rows = await node.sql<{ data: string }>("SELECT data FROM pg_logical_slot_get_changes('cdc', NULL, NULL)");
  const ids = rows.map((r) => /^table public\.cdc_t: INSERT: id\[integer\]:(\d+)/.exec(r.data)?.[1]).filter((x): x is string => !!x).map(Number);
  seen.push(...ids);
  return ids;
}

async function insert(node: TestNode, from: number, to: number): Promise<void> {
  // One transaction per row: a consumer sees each as its own commit.
  for (let i = from; i <= to; i++) await node.sql('INSERT INTO cdc_t VALUES ($1)', [i]);
}

async function slotRow(node: TestNode, name: string): Promise<{ lsn: bigint; type: string } | null> {
  const rows = await node.sql<{ t: string; l: string | null }>(
    "SELECT slot_type AS t, pg_wal_lsn_diff(COALESCE(confirmed_flush_lsn, restart_lsn), '0/0')::text AS l FROM pg_replication_slots WHERE slot_name = $1", [name]).catch(() => []);
  return rows[0] ? { type: rows[0].t, lsn: BigInt(rows[0].l ?? '0') } : null;
}

async function dcsStatus(): Promise<Record<string, any>> {
  const client = new Etcd3({ hosts: [...cluster.etcd.endpoints] });
  try {
    return JSON.parse((await client.get(`/service/${cluster.scope}/status`).string()) ?? '{}');
  } finally {
    client.close();
  }
}

describe('permanent logical slot across a failover (PostgreSQL 15, etcd)', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      dynamic: {
        slots: SLOTS,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'logical', wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10 } },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('creates the slots on the leader, publishes their positions, and copies the logical slot to every replica', async () => {
    const leader = await cluster.waitHealthy(2, 120_000);
    await leader.sql('CREATE TABLE cdc_t (id int PRIMARY KEY)');
    await waitFor(() => slotRow(leader, 'cdc'), 30_000, 'slot cdc on the leader');
    expect((await slotRow(leader, 'archiver'))?.type).toBe('physical');
    const status = await waitFor(async () => { const s = await dcsStatus(); return s.slots?.cdc ? s : null; }, 30_000, '/status slots.cdc');
    // Every member keeps slots for the others (member_slots_ttl), the leader's own position is published too.
    expect(Object.keys(status.slots).sort()).toEqual(expect.arrayContaining(['archiver', 'cdc', ...cluster.nodes.filter((n) => n !== leader).map((n) => n.name)]));
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      await waitFor(() => slotRow(n, 'cdc'), 90_000, `${n.name} to copy the logical slot (logs: ${n.logFile})`);
      // The copy is protected by hot_standby_feedback (the primary keeps the catalog rows it needs).
      await waitFor(async () => (await n.sql<{ v: string }>("SELECT current_setting('hot_standby_feedback') AS v"))[0]?.v === 'on', 30_000, `${n.name} hot_standby_feedback on`);
      expect((await slotRow(n, 'archiver'))?.type).toBe('physical');
      // Its catalog rows are protected by the physical slot's feedback on the primary: safe after a failover.
      await waitFor(() => n.log().includes('Logical slot cdc is safe to be used after a failover'), 60_000, `${n.name}: cdc safe after a failover`);
    }
    await cluster.waitHealthy(2, 60_000);
  }, 240_000);

  it('the consumer continues on the new primary after the old one is killed: every change exactly once', async () => {
    const leader = await cluster.waitHealthy(2, 60_000);
    await insert(leader, 1, 40);
    expect(await consume(leader)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const consumedTo = (await slotRow(leader, 'cdc'))!.lsn;
    // Committed but not yet consumed when the primary dies: must be delivered by the new primary.
    await insert(leader, 41, 50);
    const replicas = cluster.nodes.filter((n) => n !== leader);
    const end = (await leader.sql<{ l: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS l"))[0]!.l;
    for (const n of replicas) {
      await waitFor(async () => BigInt((await n.sql<{ l: string }>("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::text AS l"))[0]!.l) >= BigInt(end), 30_000, `${n.name} to replay`);
      // The published position reached every copy: the consumer will not see 1..40 again.
      await waitFor(async () => {
        const copy = (await slotRow(n, 'cdc'))?.lsn ?? 0n;
        if (copy >= consumedTo) return true;
        // What the timeout reports: the copy, the published position, and the replica's last slot messages.
        const published = (await dcsStatus()).slots?.cdc;
        const lines = n.log().split('\n').filter((l) => /slot|cdc/i.test(l)).slice(-5).join(' | ');
        throw new Error(`copy at ${copy}, consumer at ${consumedTo}, /status publishes ${published}; log: ${lines}`);
      }, 60_000, `${n.name}'s copy of cdc to reach the consumer's position`);
      expect((await slotRow(n, 'cdc'))!.lsn).toBe(consumedTo);
    }

    const pm = leader.postmasterPid();
    expect(pm).not.toBeNull();
    leader.signalAgent('SIGKILL');
    process.kill(pm!, 'SIGKILL');
    const next = await waitFor(async () => {
      for (const n of replicas) {
        const r = await n.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').catch(() => null);
        if (r?.[0]?.r === false) return n;
      }
      return null;
    }, 90_000, 'a replica to be promoted');

    expect(await consume(next)).toEqual(Array.from({ length: 10 }, (_, i) => i + 41));
    await insert(next, 51, 60);
    expect(await consume(next)).toEqual(Array.from({ length: 10 }, (_, i) => i + 51));
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));

    // The new leader publishes the slot; the remaining replica's copy follows it.
    const other = replicas.find((n) => n !== next)!;
    const newPos = (await slotRow(next, 'cdc'))!.lsn;
    await waitFor(async () => ((await slotRow(other, 'cdc'))?.lsn ?? 0n) >= newPos, 60_000, `${other.name}'s copy to follow the new primary`);
  }, 300_000);

  it('a replica whose copy needs WAL it never had copies the slot again instead of failing to advance it for ever', async () => {
    const leader = await cluster.waitHealthy(1, 60_000);
    const other = cluster.nodes.find((n) => n !== leader && n.agentAlive())!;
    // Nobody consumes while WAL moves on by several segments: the slot's restart_lsn stays behind them.
    for (let i = 0; i < 4; i++) {
      await insert(leader, 61 + i * 5, 65 + i * 5);
      await leader.sql('SELECT pg_catalog.pg_switch_wal()');
    }
    await leader.sql('CHECKPOINT');
    // Rebuilt from a base backup that starts past that WAL: its new copy's restart_lsn is WAL this replica never had.
    const mark = other.log().length;
    const r = await other.get('/reinitialize', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    await waitFor(() => other.log().slice(mark).includes('copied logical replication slots cdc'), 120_000, `${other.name} rebuilt, with a copy of cdc`);
    // The consumer reads on: advancing the copy to the published position needs the missing WAL.
    expect(await consume(leader)).toEqual(Array.from({ length: 20 }, (_, i) => i + 61));
    const consumed = (await slotRow(leader, 'cdc'))!.lsn;
    await waitFor(async () => ((await slotRow(other, 'cdc'))?.lsn ?? 0n) >= consumed, 120_000, `${other.name}'s copy of cdc to reach the consumer's position again`);
    expect(other.log().slice(mark)).toMatch(/replication slot 'cdc': the copy cannot be advanced; copying it from the primary again/);
  }, 300_000);
});
