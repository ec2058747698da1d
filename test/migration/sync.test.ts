/**
 * synchronous_mode across kinds (issue 19): Patroni 3.0.2 and pgha share one `/sync` key and pick
 * each other as synchronous standby; a crash of the leader hands over to the synchronous standby of
 * the other kind with every acknowledged write. node3 (Patroni) is tagged `nosync`, so the choice is
 * forced across kinds and it never races (it is not in `/sync`).
 *   1. Patroni leader node1 names pgha node2 its synchronous standby (`/sync`, synchronous_standby_names);
 *      node1 crashes under a steady writer: node2 leads and holds every acknowledged write.
 *   2. node1 comes back as Patroni and rejoins; pgha leader node2 names Patroni node1 its synchronous
 *      standby; node2 crashes: node1 leads and holds every acknowledged write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { MixedCluster, type MixedNode } from './mixed-cluster.js';
import { SteadyWriter, lostOn } from './writer.js';

let c: MixedCluster;

interface SyncKey { leader?: string; sync_standby?: string | null; quorum?: number }

/** `/sync` once it names `leader` and `standby`, and the leader's PostgreSQL waits for that standby. */
async function syncedTo(leader: MixedNode, standby: string): Promise<SyncKey> {
  let last: unknown = null;
  return waitFor(async () => {
    const raw = await c.dcsValue('sync');
    const sync = raw ? (JSON.parse(raw) as SyncKey) : null;
    const ssn = (await leader.sql<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v"))[0]?.v ?? '';
    last = { sync, ssn };
    return sync?.leader === leader.name && sync.sync_standby === standby && ssn.includes(standby) ? sync : null;
  }, 90_000, `${leader.name} to name ${standby} its synchronous standby (logs under ${c.root})`, 500)
    .catch((e: unknown) => { throw new Error(`${String(e)}; last seen: ${JSON.stringify(last)}`); });
}

/** Write steadily, crash `leader`, and return the new leader once it is writable, with the writer's acknowledged ids. */
async function crashUnderLoad(leader: MixedNode): Promise<{ next: MixedNode; acked: number[]; onOld: number }> {
  const w = new SteadyWriter(c.nodes.map((n) => n.pgPort));
  await w.start();
  await waitFor(() => w.ackedIds.length >= 100 || null, 30_000, '100 acknowledged writes');
  const onOld = w.ackedIds.length;
  await leader.crash();
  const next = await c.waitLeader(null, 120_000);
  await waitFor(() => w.ackedIds.length >= onOld + 50 || null, 60_000, 'writes acknowledged by the new leader');
  await w.stop();
  return { next, acked: [...w.ackedIds], onOld };
}

describe('synchronous_mode shared by Patroni 3.0.2 and pgha', () => {
  beforeAll(async () => {
    c = await MixedCluster.start(['patroni', 'pgha', 'patroni'], { dynamic: { synchronous_mode: true }, tags: { node3: { nosync: true } } });
    await c.waitStreaming(c.node('node1'), 150_000);
  }, 240_000);

  afterAll(async () => { await c?.stop(); }, 120_000);

  it('a Patroni leader picks the pgha replica as synchronous standby; after the leader crashes the pgha node leads with every acknowledged write', async () => {
    const [leader, pgha, nosync] = [c.node('node1'), c.node('node2'), c.node('node3')];
    const sync = await syncedTo(leader, 'node2');
    // pgha reads Patroni 3.0.2's /sync (no quorum field) and reports its role from it.
    expect(sync.quorum ?? 0).toBe(0);
    await waitFor(async () => (await pgha.api('/sync')).status === 200 || null, 30_000, 'node2 /sync health check 200');
    expect((await pgha.api('/patroni')).body.sync_standby).toBe(true);

    const { next, acked, onOld } = await crashUnderLoad(leader);
    expect(next.name).toBe('node2');
    expect(onOld).toBeGreaterThanOrEqual(100);
    expect(await lostOn(next, acked)).toBe(0);
    // The nosync Patroni replica follows the new pgha leader.
    await waitFor(async () => (await next.sql<{ n: string }>("SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming'")).some((r) => r.n === nosync.name) || null,
      90_000, 'node3 streaming from node2');
  }, 300_000);

  it('the old leader rejoins as Patroni; the pgha leader picks it as synchronous standby; after the pgha leader crashes it leads with every acknowledged write', async () => {
    const [back, leader] = [c.node('node1'), c.node('node2')];
    back.start('patroni');
    await c.waitStreaming(leader, 150_000);
    const sync = await syncedTo(leader, 'node1');
    // pgha writes Patroni 4.1's value; Patroni 3.0.2 ignores `quorum`.
    expect(sync).toEqual({ leader: 'node2', quorum: 0, sync_standby: 'node1' });
    await waitFor(async () => (await back.api('/sync')).status === 200 || null, 30_000, 'node1 (Patroni) /sync health check 200');

    const { next, acked } = await crashUnderLoad(leader);
    expect(next.name).toBe('node1');
    expect(await lostOn(next, acked)).toBe(0);
  }, 300_000);
});
