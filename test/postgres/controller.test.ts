import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADOPTED_PROBE_MS, createReplica, PluginHost, PostgresController, replicaMethodResolver, type PostmasterExitEvent } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';
import { childrenOf, freeze, processState } from '../../core/src/postgres/processes.js';
import { testUser } from '../helpers/user.js';
import { cleanupNodes, follow, makeNode, startPrimary, type TestNode } from './pg-helpers.js';

let a: TestNode;
let b: TestNode;
const resolve = replicaMethodResolver(new PluginHost({ config: {} }));
const slot = (n: TestNode) => n.name;
const never = new AbortController().signal;

async function replays(node: TestNode, value: string): Promise<void> {
  await waitFor(async () => (await node.pg.query('SELECT 1 FROM t WHERE v = $1', [value]).catch(() => [])).length === 1, 20_000, `${node.name} has ${value}`);
}

beforeAll(async () => {
  // Replicas reconnect quickly after the primary restarts.
  const parameters = { wal_retrieve_retry_interval: '200ms' };
  a = await makeNode('node_a', { parameters });
  b = await makeNode('node_b', { parameters });
  await startPrimary(a);
  await a.pg.query('CREATE TABLE t (v text)');
  await a.pg.query('SELECT pg_create_physical_replication_slot($1)', [slot(b)]);
  const r = await createReplica({ pg: b.pg, source: a.member(), resolve, sections: { basebackup: { checkpoint: 'fast' } } });
  expect(r.ok).toBe(true);
  expect(await follow(b, a.member())).toBe(true);
  await a.pg.query("INSERT INTO t VALUES ('initial')");
  await replays(b, 'initial');
});
afterAll(cleanupNodes);

describe('PostgresController and the agent\'s port over it', () => {
  it('reports pending restart for a changed restart-only setting; a restart applies it', async () => {
    // pg_settings.pending_restart, read again when the monitoring query shows a new pg_conf_load_time().
    const pending = async () => a.pg.pendingRestart((await a.pg.status())!);
    expect(await pending()).toBe(false);
    await a.pg.query('ALTER SYSTEM SET max_files_per_process = 1500');
    expect(a.pg.reload()).toBe(true);
    await waitFor(() => pending(), 5000, 'pending_restart');
    const before = a.pg.postmasterPid();
    expect(await a.pg.restart()).toBe(true);
    expect(a.pg.postmasterPid()).not.toBe(before);
    expect(a.pg.state).toBe('running');
    expect(await pending()).toBe(false);
    expect(await a.pg.query("SELECT current_setting('max_files_per_process') AS v")).toEqual([{ v: '1500' }]);
  });

  it('the switchover stop reports the shutdown checkpoint once a replica has it; the replica promotes; the old primary follows', async () => {
    await a.pg.query("INSERT INTO t VALUES ('before switchover')");
    await replays(b, 'before switchover'); // b reconnected after the restart above
    let replicaHadCheckpoint = false;
    let checkpointSeen: number | null = null;
    // The stop the agent's graceful demotion (and SIGTERM) runs: checkpoint, fast shutdown, onShutdown.
    const stopped = await a.ha.stop('fast', {
      checkpoint: true, blockCallbacks: true,
      onShutdown: async (checkpoint) => {
        checkpointSeen = checkpoint;
        // What the handover waits for before releasing the leader key early: a replica received it.
        await waitFor(async () => {
          const [row] = await b.pg.query<{ lsn: string }>("SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::text AS lsn");
          return BigInt(row!.lsn) > BigInt(checkpoint!);
        }, 10_000, 'replica received the shutdown checkpoint');
        replicaHadCheckpoint = true;
      },
    });
    expect(stopped).toBe(true);
    expect(checkpointSeen).not.toBeNull();
    expect(replicaHadCheckpoint).toBe(true);
    expect(a.pg.state).toBe('stopped');
    expect((await a.pg.controlData())['Database cluster state']).toBe('shut down');

    expect(await b.ha.promote(never)).toBe(true);
    expect(await b.pg.status()).toMatchObject({ role: 'primary', inRecovery: false, timeline: 2, replicationState: null });
    await b.pg.query('SELECT pg_create_physical_replication_slot($1)', [slot(a)]);
    expect(await follow(a, b.member())).toBe(true);
    await b.pg.query("INSERT INTO t VALUES ('after switchover')");
    await replays(a, 'after switchover');
    expect(await a.pg.status()).toMatchObject({ role: 'replica', replicationState: 'streaming', timeline: 2 });
  });

  it('pg_rewind brings a diverged former primary back as a replica (after single-user crash recovery)', async () => {
    // Split brain: a is promoted too and takes writes b never sees.
    expect(await a.ha.promote(never)).toBe(true);
    await a.pg.query("INSERT INTO t VALUES ('diverged on a')");
    await b.pg.query("INSERT INTO t VALUES ('on b after the split')");
    await b.pg.query('CHECKPOINT');
    await a.ha.demote('immediate');
    expect(a.pg.isRunning()).toBe(false);
    expect((await a.pg.controlData())['Database cluster state']).toBe('in production'); // not a clean shutdown
    // What the agent decides from here: the divergence check says rewind, the rewind action runs it.
    expect(await a.ha.checkDiverged(b.member())).toBe('need_rewind');
    expect(await a.ha.rewind(b.member(), never)).toBe(true);
    expect((await a.pg.controlData())['Database cluster state']).not.toBe('in production');
    expect(await follow(a, b.member())).toBe(true);
    await b.pg.query("INSERT INTO t VALUES ('after rewind')");
    await replays(a, 'after rewind');
    const rows = (await a.pg.query<{ v: string }>('SELECT v FROM t ORDER BY v')).map((r) => r.v);
    expect(rows).toContain('on b after the split');
    expect(rows).not.toContain('diverged on a');
    expect(await a.pg.status()).toMatchObject({ role: 'replica', replicationState: 'streaming', timeline: 2 });
  });

  it('notices a killed postmaster within a second, whether it spawned it or adopted it (its connection ends)', async () => {
    const events: PostmasterExitEvent[] = [];
    a.pg.on('postmaster-exit', (e) => events.push(e));
    const pidA = a.pg.postmasterPid()!;
    const t0 = Date.now();
    process.kill(pidA, 'SIGKILL');
    await waitFor(() => events.length === 1, 1000, 'postmaster-exit event (spawned)', 10);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(events[0]).toMatchObject({ pid: pidA, expected: false, signal: 'SIGKILL' });
    expect(a.pg.state).toBe('crashed');

    // A new controller (an agent restart) adopts b's running postmaster.
    const u = testUser();
    const adopted = new PostgresController({ postgresql: b.pg.settings, scope: 'pgtest', name: b.name, uid: u?.uid, gid: u?.gid });
    expect(adopted.state).toBe('running');
    const pidB = adopted.postmasterPid()!;
    expect(pidB).toBe(b.pg.postmasterPid());
    const adoptedEvents: PostmasterExitEvent[] = [];
    adopted.on('postmaster-exit', (e) => adoptedEvents.push(e));
    expect(await adopted.status()).toHaveProperty('timeline'); // the agent's connection, open between cycles
    const t1 = Date.now();
    process.kill(pidB, 'SIGKILL');
    // Not its background probe (a backstop every ADOPTED_PROBE_MS): the backend's exit ends the connection.
    expect(ADOPTED_PROBE_MS).toBeGreaterThan(2000);
    await waitFor(() => adoptedEvents.length === 1, 1000, 'postmaster-exit event (adopted)', 10);
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(adoptedEvents[0]).toMatchObject({ pid: pidB, expected: false });
    expect(adopted.state).toBe('crashed');
    await adopted.close();
  });

  it('primary_stop_timeout: a stop that hangs is aborted (immediate), then SIGKILLed with every child', async () => {
    const c = await makeNode('node_c');
    await startPrimary(c);
    const pm = c.pg.postmasterPid()!;
    const children = childrenOf(pm);
    expect(children.length).toBeGreaterThan(0);
    // A frozen PostgreSQL ignores fast and immediate shutdown requests until it is killed.
    freeze(pm);
    const t0 = Date.now();
    expect(await c.pg.stop({ mode: 'fast', abortAfterMs: 1000 })).toBe(true);
    // One second fast, one second immediate, then SIGKILL (generous bound for a loaded machine).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // SIGKILL is delivered at once, but a killed process may take a moment to finish exiting.
    const dead = () => [pm, ...children].every((pid) => /gone|Z/.test(processState(pid) ?? 'gone'));
    await waitFor(() => dead() || null, 5000, 'the postmaster and every child gone', 20);
  }, 60_000);
});

