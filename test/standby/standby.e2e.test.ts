/**
 * Standby clusters end to end (issue 16): cluster A (3 agents) and cluster B (3 agents) on PostgreSQL
 * 15 and one real etcd. B is a standby cluster of A: it bootstraps by cloning A's primary, its lock
 * holder is a standby leader (role `standby_leader`, /standby-leader 200, `pgha list` shows
 * `Standby Leader`) that replicates from A while B's other members cascade from it; writes on A
 * reach every member of B; B never accepts a write while standby, not even when its standby leader
 * dies. Then the data-center switchover: `pgha promote-cluster` makes B writable, `pgha
 * demote-cluster` on A makes A a standby cluster following B.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERUSER, TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { acceptsWrites } from '../helpers/writable.js';
import { runCtl } from '../ctl/run-ctl.js';

let a: TestCluster;
let b: TestCluster;
let aLeader: TestNode;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const writes = (n: TestNode) => acceptsWrites(n.pgPort, SUPERUSER.username, SUPERUSER.password, 2000);
const dcsUrl = () => `etcd3://${a.etcd.endpoints[0]!.replace(/^https?:\/\//, '')}/service`;
const ctl = (args: string[], timeoutMs = 120_000) => runCtl(['--dcs-url', dcsUrl(), ...args], { env: { PATRONICTL_CONFIG_FILE: '' }, timeoutMs });

async function members(c: TestCluster): Promise<Array<{ name: string; role: string; state: string }>> {
  for (const n of c.nodes) {
    try { return (await n.get('/cluster')).body.members; } catch { /* next */ }
  }
  return [];
}

/** The standby leader of `c` once it and `replicas` cascading members stream. */
async function standbyHealthy(c: TestCluster, replicas: number, timeoutMs = 120_000): Promise<TestNode> {
  return waitFor(async () => {
    const leader = (await members(c)).find((m) => m.role === 'standby_leader');
    if (!leader) return null;
    const n = c.node(leader.name);
    if ((await n.get('/standby-leader')).status !== 200) return null;
    const rows = await n.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (rows[0]?.r !== true) return null;
    const names = c.nodes.map((x) => x.name);
    const streaming = await n.sql("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' AND application_name = ANY($1)", [names]);
    return streaming.length >= replicas ? n : null;
  }, timeoutMs, `a standby leader with ${replicas} streaming members (logs: ${c.root})`, 500);
}

async function has(n: TestNode, v: string): Promise<boolean> {
  try {
    return (await n.sql<{ c: number }>('SELECT count(*)::int AS c FROM dc WHERE v = $1', [v]))[0]?.c === 1;
  } catch { return false; }
}

/** Writability of B's nodes every 500 ms: any sample with a writable node fails the test. */
function watchNoWrites(nodes: readonly TestNode[]) {
  const bad: Array<{ t: number; node: string }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = Date.now();
      for (const n of nodes) if (await writes(n)) bad.push({ t, node: n.name });
      await sleep(Math.max(0, 500 - (Date.now() - t)));
    }
  })();
  return { bad, async stop() { running = false; await done; } };
}

describe('standby cluster (etcd, PostgreSQL 15)', () => {
  let guard: ReturnType<typeof watchNoWrites>;

  beforeAll(async () => {
    a = await TestCluster.start({ nodes: 3 });
    aLeader = await a.waitHealthy(2);
    await aLeader.sql('CREATE TABLE dc (v text)');
    await aLeader.sql("INSERT INTO dc VALUES ('before-standby')");
    b = await TestCluster.start({ nodes: 3, dcs: { kind: 'etcd3', etcd: a.etcd }, dynamic: { standby_cluster: { host: '127.0.0.1', port: aLeader.pgPort } } });
    guard = watchNoWrites(b.nodes);
  }, 150_000);

  afterAll(async () => {
    await guard?.stop();
    await b?.stop();
    await a?.stop();
  }, 180_000);

  it('bootstraps by cloning the remote primary: a standby leader and two cascading members, all with A\'s data', async () => {
    const sl = await standbyHealthy(b, 2, 150_000);
    for (const n of b.nodes) await waitFor(() => has(n, 'before-standby'), 30_000, `${n.name} of B to have A's data`);
    expect(sl.log()).toContain('trying to bootstrap a new standby leader');
    const st = (await sl.get('/patroni')).body;
    expect(st.role).toBe('standby_leader');
    expect((await sl.get('/primary')).status).toBe(503);
    expect((await sl.get('/leader')).status).toBe(200);
    const replica = b.nodes.find((n) => n !== sl)!;
    expect((await replica.get('/standby-leader')).status).toBe(503);
    expect((await replica.get('/replica')).status).toBe(200);
    // The standby leader streams from A's primary.
    // A's two replicas and B's standby leader (member names repeat across the clusters: count them all).
    await waitFor(async () => (await aLeader.sql("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")).length === 3, 20_000, "three walsenders on A's primary");
    expect((await sl.sql<{ s: string }>('SELECT status AS s FROM pg_stat_wal_receiver'))[0]?.s).toBe('streaming');
    const list = await ctl(['list', b.scope, '-f', 'json']);
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as Array<{ Member: string; Role: string }>;
    expect(rows.find((r) => r.Member === sl.name)?.Role).toBe('Standby Leader');
    expect((await members(b)).find((m) => m.name === sl.name)?.role).toBe('standby_leader');
  }, 200_000);

  it('writes on A reach every member of B', async () => {
    await aLeader.sql("INSERT INTO dc VALUES ('replicated')");
    for (const n of b.nodes) await waitFor(() => has(n, 'replicated'), 30_000, `${n.name} of B to replay A's write`);
  }, 60_000);

  it('never promotes while standby: when the standby leader dies another member becomes standby leader, not primary', async () => {
    const sl = await standbyHealthy(b, 2);
    const pm = sl.postmasterPid()!;
    sl.signalAgent('SIGKILL');
    process.kill(pm, 'SIGKILL');
    await sl.proc!.exited;
    const next = await waitFor(async () => {
      const m = (await members(b)).find((x) => x.role === 'standby_leader' && x.name !== sl.name);
      return m ? b.node(m.name) : null;
    }, 90_000, 'another standby leader');
    await aLeader.sql("INSERT INTO dc VALUES ('after-standby-failover')");
    await waitFor(() => has(next, 'after-standby-failover'), 30_000, 'the new standby leader to replicate from A');
    sl.start();
    await standbyHealthy(b, 2, 120_000);
    await guard.stop();
    expect(guard.bad, `writable B nodes while standby: ${JSON.stringify(guard.bad.slice(0, 5))}`).toEqual([]);
  }, 240_000);

  it('promote-cluster makes B writable; demote-cluster on A makes A follow B', async () => {
    const sl = await standbyHealthy(b, 2);
    const promote = await ctl(['promote-cluster', b.scope, '--force']);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toContain('Current cluster topology');
    expect(promote.stdout).toContain('cluster is successfully promoted');
    const bLeader = await b.waitHealthy(2, 90_000);
    expect(bLeader.name).toBe(sl.name);
    expect(await writes(bLeader)).toBe(true);

    const again = await ctl(['promote-cluster', b.scope, '--force']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Cluster is already in the required state');
    const noTarget = await ctl(['demote-cluster', a.scope, '--force']);
    expect(noTarget.stderr).toContain('At least --host, --port or --restore-command should be specified');
    const aborted = await runCtl(['--dcs-url', dcsUrl(), 'demote-cluster', a.scope, '--host', '127.0.0.1', '--port', String(bLeader.pgPort)], { env: { PATRONICTL_CONFIG_FILE: '' }, input: 'n\n' });
    expect(aborted.stdout).toContain(`Are you sure you want to demote ${a.scope} cluster? [y/N]: `);
    expect(aborted.stderr).toContain('Aborted cluster demotion');

    const demote = await ctl(['demote-cluster', a.scope, '--force', '--host', '127.0.0.1', '--port', String(bLeader.pgPort)], 180_000);
    expect(demote.code, `${demote.stdout}\n${demote.stderr}`).toBe(0);
    expect(demote.stdout).toContain('cluster is successfully demoted');
    const aStandby = await standbyHealthy(a, 2, 150_000);
    await a.expectWritablePrimaries([]);
    await bLeader.sql("INSERT INTO dc VALUES ('written-on-b')");
    for (const n of a.nodes) await waitFor(() => has(n, 'written-on-b'), 60_000, `${n.name} of A to replay B's write`);
    expect((await aStandby.get('/patroni')).body.role).toBe('standby_leader');
  }, 420_000);
});
