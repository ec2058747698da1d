/**
 * The rolling migration of docs/migrating-from-patroni.md (issue 19), performed on a 3-node cluster
 * of Debian's Patroni 3.0.2 under a steady writer: each replica's `patroni` is replaced by
 * `pgha run` on the same YAML, then a switchover moves the leader to a pgha node, then the old
 * primary is replaced. After each step the checks the guide names: the node runs under pgha, is a
 * streaming replica in `pgha list` and in patronictl's, answers GET /replica with 200. At the end
 * every acknowledged write is on every node (0 lost), and the longest write gap is printed. Then the
 * way back: one node returns to Patroni on the same file and rejoins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/procs.js';
import { MixedCluster, type MixedNode } from './mixed-cluster.js';
import { SteadyWriter, longestGapIn, lostOn, type WriterReport } from './writer.js';

let c: MixedCluster;
let writer: SteadyWriter;
/** When each step began (ms since epoch), to name the step the longest gap fell in. */
const steps: Array<{ step: string; at: number }> = [];

/** The guide's check after a node moved to pgha: a streaming replica of `leader` that both tools list. */
async function checkReplacedReplica(n: MixedNode, leader: MixedNode): Promise<void> {
  await c.waitStreaming(leader, 150_000);
  await waitFor(async () => (await n.api('/replica')).status === 200, 60_000, `${n.name}: GET /replica 200`);
  const st = (await n.api('/patroni')).body;
  expect(st).toMatchObject({ state: 'running', role: 'replica', patroni: { name: n.name, scope: c.scope } });
  await c.waitListed('pgha', c.healthyRows('pgha', leader.name), 60_000, n);
  await c.waitListed('patronictl', c.healthyRows('patronictl', leader.name), 60_000);
}

/** Every node's agent log lines stamped within [from, to] (ms since epoch; the logs are UTC), tagged and sorted. */
function linesBetween(from: number, to: number): string[] {
  const out: Array<[number, string]> = [];
  for (const n of c.nodes) {
    for (const line of n.log().split('\n')) {
      const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) /.exec(line);
      const t = m ? Date.parse(`${m[1]!.replace(' ', 'T')}.${m[2]}Z`) : NaN;
      if (t >= from && t <= to) out.push([t, `${n.name}: ${line}`]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, l]) => l.slice(0, 220));
}

/** Replace `patroni` with `pgha run` on a node: stop one (it stops PostgreSQL), start the other. */
async function migrate(n: MixedNode): Promise<void> {
  expect(n.kind).toBe('patroni');
  steps.push({ step: `replace ${n.name}`, at: Date.now() });
  await n.stop();
  n.start('pgha');
}

describe('rolling migration of a 3-node Patroni cluster to pgha under a steady writer', () => {
  beforeAll(async () => {
    c = await MixedCluster.start(['patroni', 'patroni', 'patroni']);
    await c.waitStreaming(c.node('node1'), 150_000);
    writer = new SteadyWriter(c.nodes.map((n) => n.pgPort));
    await writer.start();
    steps.push({ step: 'start', at: Date.now() });
  }, 240_000);

  afterAll(async () => {
    await writer?.stop();
    await c?.stop();
  }, 120_000);

  it('replicas first, then a switchover to pgha, then the old primary: no acknowledged write lost', async () => {
    const [primary, r1, r2] = [c.node('node1'), c.node('node2'), c.node('node3')];
    for (const r of [r1!, r2!]) {
      await migrate(r);
      await checkReplacedReplica(r, primary!);
    }

    steps.push({ step: 'switchover node1 -> node2', at: Date.now() });
    const sw = await c.pgha(['switchover', c.scope, '--leader', 'node1', '--candidate', 'node2', '--force'], r1);
    expect(sw.code, sw.stderr + sw.stdout).toBe(0);
    await c.waitLeader('node2', 90_000);

    await migrate(primary!);
    await checkReplacedReplica(primary!, r1!);

    // For comparison, a switchover with pgha on both ends.
    steps.push({ step: 'switchover node2 -> node1 (pgha to pgha)', at: Date.now() });
    const back = await c.pgha(['switchover', c.scope, '--leader', 'node2', '--candidate', 'node1', '--force'], r1);
    expect(back.code, back.stderr + back.stdout).toBe(0);
    await c.waitLeader('node1', 90_000);
    await c.waitStreaming(primary!, 120_000);
    steps.push({ step: 'done', at: Date.now() });
    await new Promise((r) => setTimeout(r, 2000));

    const report: WriterReport = await writer.stop();
    const inGap = [...steps].reverse().find((s) => s.at <= report.longestGapAt)?.step ?? '?';
    console.log(`rolling migration: ${report.acked} writes acknowledged, ${report.errors} failed attempts; longest write gap ${report.longestGapMs} ms (during: ${inGap})`);
    const perStep = steps.slice(0, -1).map((s, i) => `${s.step}: ${longestGapIn(report.ackTimes, s.at, steps[i + 1]!.at)} ms`);
    console.log(`rolling migration: longest write gap per step: ${perStep.join('; ')}`);
    console.log(`rolling migration: agent log lines during the longest gap:\n${linesBetween(report.longestGapAt - 500, report.longestGapAt + report.longestGapMs + 500).join('\n')}`);
    expect(report.acked).toBeGreaterThan(100);

    // Every acknowledged row, on every node (replicas caught up with the new leader).
    const acked = writer.ackedIds;
    const leaderRows = await primary!.sql<{ n: number; max: string }>('SELECT count(*)::int AS n, max(id)::text AS max FROM migration_writes');
    for (const n of c.nodes) {
      // A replica may still be replaying the last writes: give it time, then count.
      await waitFor(async () => (await lostOn(n, acked)) === 0, 30_000, `${n.name}: every acknowledged row`).catch(() => undefined);
      const lost = await lostOn(n, acked);
      console.log(`rolling migration: ${n.name} lost ${lost} of ${acked.length} acknowledged writes`);
      expect(lost).toBe(0);
    }
    expect(leaderRows[0]!.n).toBeGreaterThanOrEqual(acked.length);
    // The target is one switchover of at most 0.5 s; the bound is generous for a shared 2-core machine.
    expect(report.longestGapMs).toBeLessThan(15_000);
    for (const n of c.nodes) {
      expect(n.kind).toBe('pgha');
      // The guide's check: pgha reads the Patroni YAML without a startup warning (unknown or ignored keys).
      const run = n.log().split(/^----- .* starting pgha$/m).at(-1)!;
      const listening = run.search(/INFO: REST API listening/);
      expect(listening, `${n.name}: pgha started its REST API`).toBeGreaterThan(0);
      const startup = run.slice(0, listening);
      expect(startup.split('\n').filter((l) => / (WARNING|ERROR|CRITICAL): /.test(l)), n.name).toEqual([]);
    }
  }, 170_000);

  it('the way back: a node returns to Patroni on the same YAML and rejoins as a streaming replica', async () => {
    const n = c.node('node3');
    await n.stop();
    n.start('patroni');
    const leader = c.node('node1');
    await c.waitStreaming(leader, 120_000);
    await waitFor(async () => (await n.api('/patroni')).body?.patroni?.version === '3.0.2', 60_000, 'node3 answered by Patroni 3.0.2');
    await c.waitListed('patronictl', c.healthyRows('patronictl', 'node1'), 60_000, n);
  }, 150_000);
});
