/**
 * A mixed cluster (issue 19): Debian's Patroni 3.0.2 and pgha side by side on one etcd3 and one
 * scope. A Patroni cluster (node1 leader, node2 replica) gains a pgha node (node3) that clones from
 * the Patroni leader; leadership moves Patroni → pgha by `patronictl switchover` and pgha → Patroni
 * by `pgha switchover`; the management verbs of either tool act on members of the other kind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { MixedCluster, type MixedNode } from './mixed-cluster.js';

let c: MixedCluster;
let [patroniLeader, patroniReplica, pghaNode]: MixedNode[] = [];

async function sysid(n: MixedNode): Promise<string> {
  return (await n.sql<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;
}

/** A row written on `leader` is readable on every other node. */
async function replicatesEverywhere(leader: MixedNode, tag: string): Promise<void> {
  await leader.sql('CREATE TABLE IF NOT EXISTS mixed (tag text PRIMARY KEY)');
  await leader.sql('INSERT INTO mixed VALUES ($1)', [tag]);
  for (const n of c.nodes.filter((x) => x !== leader)) {
    await waitFor(async () => (await n.sql('SELECT 1 FROM mixed WHERE tag = $1', [tag])).length === 1, 30_000, `${tag} on ${n.name}`);
  }
}

describe('mixed cluster: Patroni 3.0.2 and pgha on etcd3', () => {
  beforeAll(async () => {
    c = await MixedCluster.start(['patroni', 'patroni', 'pgha']);
    [patroniLeader, patroniReplica, pghaNode] = c.nodes;
  }, 180_000);

  afterAll(async () => { await c?.stop(); }, 120_000);

  it('a pgha node joins a Patroni cluster by cloning from the Patroni leader, and both tools list it', async () => {
    await c.waitStreaming(patroniLeader!, 150_000);
    expect(await sysid(pghaNode!)).toBe(await sysid(patroniLeader!));
    expect(pghaNode!.log()).toMatch(/pg_basebackup|basebackup/i);
    await replicatesEverywhere(patroniLeader!, 'from-patroni-leader');

    // Member keys are refreshed every loop_wait: wait for the states to settle in both tools' views.
    const byPatroni = await c.waitListed('patronictl', c.healthyRows('patronictl', 'node1'));
    // Patroni 3.0.2 reads pgha's member value like its own: timeline and lag of the pgha replica.
    const pghaRow = byPatroni.find((r) => r.Member === 'node3')!;
    expect(pghaRow.TL).toBe(byPatroni[0]!.TL);
    expect(typeof pghaRow['Lag in MB']).toBe('number');

    const byPgha = await c.waitListed('pgha', c.healthyRows('pgha', 'node1'), 30_000, pghaNode);
    // The Patroni replica's member value gives pgha's 4.1-style columns.
    expect(byPgha.find((r) => r.Member === 'node2')!['Replay LSN']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  }, 180_000);

  it('patronictl switchover Patroni → pgha: the Patroni nodes follow the pgha leader', async () => {
    const r = await c.patronictl(['switchover', c.scope, '--leader', 'node1', '--candidate', 'node3', '--force']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Successfully switched over to "node3"/);
    await c.waitLeader('node3', 60_000);
    await c.waitStreaming(pghaNode!, 120_000);
    await replicatesEverywhere(pghaNode!, 'from-pgha-leader');
    // Patroni's own view of the new leader: the pgha node as Leader, the old Patroni leader streaming.
    await c.waitListed('patronictl', c.healthyRows('patronictl', 'node3'), 60_000, patroniReplica);
    expect((await patroniLeader!.api('/patroni')).body.role).toMatch(/^replica$/);
    // /status as Patroni 4.1's leader writes it: every slot on the leader, its own at its LSN, and
    // the member slots it retains; the Patroni 3.0.2 replicas above kept streaming with it.
    const status = await waitFor(async () => {
      const v = JSON.parse((await c.dcsValue('status')) ?? '{}');
      return v.retain_slots?.length === 3 ? v : null;
    }, 30_000, '/status with retain_slots');
    expect(Object.keys(status)).toEqual(['optime', 'slots', 'retain_slots']);
    expect(Object.keys(status.slots).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(status.retain_slots).toEqual(['node1', 'node2', 'node3']);
    expect(status.slots.node3).toBeLessThanOrEqual(status.optime);
  }, 180_000);

  it('pgha switchover pgha → Patroni: the pgha node follows the Patroni leader', async () => {
    const r = await c.pgha(['switchover', c.scope, '--leader', 'node3', '--candidate', 'node2', '--force'], pghaNode);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await c.waitLeader('node2', 60_000);
    await c.waitStreaming(patroniReplica!, 120_000);
    await replicatesEverywhere(patroniReplica!, 'back-to-patroni');
    const st = (await pghaNode!.api('/patroni')).body;
    expect(st.role).toBe('replica');
    expect(st.state).toBe('running');
    await c.waitListed('pgha', c.healthyRows('pgha', 'node2'), 60_000, pghaNode);
  }, 180_000);

  it('restart from either side: patronictl restarts the pgha member, pgha restarts a Patroni member', async () => {
    const before3 = pghaNode!.postmasterPid();
    const r1 = await c.patronictl(['restart', c.scope, 'node3', '--force']);
    expect(r1.code, r1.stderr + r1.stdout).toBe(0);
    expect(r1.stdout).toMatch(/Success: restart on member node3/);
    await waitFor(() => { const p = pghaNode!.postmasterPid(); return p && p !== before3; }, 60_000, 'node3 restarted');

    const before1 = patroniLeader!.postmasterPid();
    const r2 = await c.pgha(['restart', c.scope, 'node1', '--force'], pghaNode);
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    expect(r2.stdout).toMatch(/Success: restart on member node1/);
    await waitFor(() => { const p = patroniLeader!.postmasterPid(); return p && p !== before1; }, 60_000, 'node1 restarted');
    await c.waitStreaming(patroniReplica!, 120_000);
  }, 150_000);

  it('pause by patronictl is honoured by pgha; resume by pgha is honoured by Patroni', async () => {
    const p = await c.patronictl(['pause', c.scope, '--wait']);
    expect(p.code, p.stderr + p.stdout).toBe(0);
    await waitFor(async () => (await pghaNode!.api('/patroni')).body.pause === true, 30_000, 'pgha node paused');
    expect((await patroniLeader!.api('/patroni')).body.pause).toBe(true);
    const r = await c.pgha(['resume', c.scope, '--wait'], pghaNode);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => (await patroniLeader!.api('/patroni')).body.pause === undefined, 30_000, 'Patroni node resumed');
    expect((await pghaNode!.api('/patroni')).body.pause).toBeUndefined();
  }, 90_000);

  it('edit-config from either side: each kind applies the other tool\'s PostgreSQL parameter change', async () => {
    const setting = async (n: MixedNode) => (await n.sql<{ w: string }>("SELECT current_setting('work_mem') AS w"))[0]!.w;
    const r1 = await c.pgha(['edit-config', c.scope, '-p', 'work_mem=8MB', '--force', '-q'], pghaNode);
    expect(r1.code, r1.stderr + r1.stdout).toBe(0);
    for (const n of c.nodes) await waitFor(async () => (await setting(n)) === '8MB', 30_000, `${n.name}: work_mem 8MB from pgha edit-config`);
    const r2 = await c.patronictl(['edit-config', c.scope, '-p', 'work_mem=16MB', '--force', '-q']);
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    for (const n of c.nodes) await waitFor(async () => (await setting(n)) === '16MB', 30_000, `${n.name}: work_mem 16MB from patronictl edit-config`);
  }, 90_000);

  it('reinit from either side: patronictl rebuilds the pgha replica, pgha rebuilds a Patroni replica', async () => {
    const id = await sysid(patroniReplica!);
    for (const [tool, target] of [['patronictl', pghaNode!], ['pgha', patroniLeader!]] as const) {
      const before = target.postmasterPid();
      const r = tool === 'patronictl' ? await c.patronictl(['reinit', c.scope, target.name, '--force']) : await c.pgha(['reinit', c.scope, target.name, '--force'], pghaNode);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Success: reinitialize for member ${target.name}`));
      await waitFor(() => { const p = target.postmasterPid(); return p && p !== before; }, 90_000, `${target.name} rebuilt`);
      await c.waitStreaming(patroniReplica!, 120_000);
      expect(await sysid(target)).toBe(id);
    }
    await replicatesEverywhere(patroniReplica!, 'after-reinit');
  }, 240_000);

  it('history from either side: the same timeline switches', async () => {
    const p = await c.patronictl(['history', c.scope, '-f', 'json']);
    const g = await c.pgha(['history', c.scope, '-f', 'json']);
    expect(p.code, p.stderr).toBe(0);
    expect(g.code, g.stderr).toBe(0);
    const rows = JSON.parse(p.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => r['New Leader'])).toEqual(['node3', 'node2']);
    expect(JSON.parse(g.stdout)).toEqual(rows);
    expect(g.stdout, 'byte for byte').toBe(p.stdout);
  }, 60_000);

  it('version from either side names every member with its agent and PostgreSQL version', async () => {
    const byPatroni = await c.patronictl(['version', c.scope]);
    expect(byPatroni.code, byPatroni.stderr).toBe(0);
    const byPgha = await c.pgha(['version', c.scope]);
    expect(byPgha.code, byPgha.stderr).toBe(0);
    expect(byPgha.stdout.split('\n')[0]).toMatch(/^pgha version \d+\.\d+\.\d+$/);
    for (const out of [byPatroni.stdout, byPgha.stdout]) {
      expect(out).toMatch(/^node1: Patroni 3\.0\.2 PostgreSQL 15\.\d+$/m);
      expect(out).toMatch(/^node2: Patroni 3\.0\.2 PostgreSQL 15\.\d+$/m);
      expect(out).toMatch(/^node3: Patroni 4\.\d+\.\d+ PostgreSQL 15\.\d+$/m);
    }
    // The two tools agree line for line on the members.
    expect(byPgha.stdout.split('\n').slice(1)).toEqual(byPatroni.stdout.split('\n').slice(1));
  }, 60_000);
});
