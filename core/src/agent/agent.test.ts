/**
 * The agent between decide() and the processes, through fake ports: the real Agent, executor and
 * DCS facade over an in-memory DCS and fake PostgreSQL servers on a simulated clock (core/src/sim).
 * What used to be reachable only by end-to-end runs: REST restarts and reinitialize going through
 * the one long-action runner and coming back as events, the published role during a handover,
 * scheduled restarts as decided actions, the fence standing down, cancellation reaching a child.
 */
import { describe, expect, it } from 'vitest';
import { runCommand } from '../postgres/exec.js';
import { silentLogger } from '../log.js';
import { SimCluster } from '../sim/cluster.js';
import type { HaEvent } from '../ha/types.js';
import { LongActionRunner } from './long-action.js';

/** A healthy three-node cluster led by n1 (its agent starts first). */
async function healthy(): Promise<SimCluster> {
  const sim = new SimCluster({ seed: 11, faults: [], bootAt: (n) => (n === 'n1' ? 0 : 3000) });
  const up = await sim.runUntil(() => sim.leaderName() === 'n1' && sim.nodes.every((n) => n.name === 'n1' || (n.pg.up && n.pg.streaming)), 60_000);
  expect(up, sim.trace.join('\n')).toBe(true);
  return sim;
}

/** Step the simulation until `p` settles. */
async function settle<T>(sim: SimCluster, p: Promise<T>, ms = 60_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  void p.then((v) => { done = true; value = v; });
  expect(await sim.runUntil(() => done, ms), sim.trace.join('\n')).toBe(true);
  return value as T;
}

describe('agent through fake ports', () => {
  it('the fence is armed on the leader only; replicas stand it down every cycle', async () => {
    const sim = await healthy();
    expect(sim.node('n1').fence!.isArmed).toBe(true);
    expect(sim.node('n2').fence!.isArmed).toBe(false);
    expect(sim.node('n1').agent!.isLeader()).toBe(true);
    expect(sim.node('n2').agent!.isLeader()).toBe(false);
  });

  it('POST /restart runs through the runner and the next decision sees it in progress', async () => {
    const sim = await healthy();
    const n2 = sim.node('n2');
    const restarting = n2.agent!.restart({});
    expect(await sim.runUntil(() => n2.pg.state === 'starting', 5000)).toBe(true);
    // A second request while it runs is refused by the runner.
    expect(await n2.agent!.restart({})).toEqual([false, 'restart already in progress']);
    expect(await settle(sim, restarting)).toEqual([true, 'restarted successfully']);
    expect(sim.trace.join('\n')).toMatch(/n2: restart in progress/);
  });

  it('POST /reinitialize re-clones through the plan\'s path; refused on the leader', async () => {
    const sim = await healthy();
    expect(await settle(sim, sim.node('n1').agent!.reinitialize(false))).toEqual([false, 'I am the leader, can not reinitialize']);
    const n3 = sim.node('n3');
    expect(await settle(sim, n3.agent!.reinitialize(false))).toEqual([true, 'reinitialize started']);
    expect(await sim.runUntil(() => n3.pg.state === 'creating replica', 5000)).toBe(true);
    expect(await sim.runUntil(() => n3.pg.up && n3.pg.streaming, 60_000)).toBe(true);
    expect(n3.pg.sharesHistoryWith(sim.node('n1').pg)).toBe(true);
  });

  it('a SIGTERM hands the key over; the role reads demoted from the moment it is released', async () => {
    const sim = await healthy();
    const n1 = sim.node('n1');
    const agent = n1.agent!;
    n1.down = true; // no more cycles: the process is shutting down
    const stopped = agent.stop();
    expect(await sim.runUntil(() => sim.leaderName() !== 'n1', 10_000)).toBe(true);
    expect((await agent.nodeStatus()).role).toBe('demoted');
    expect(agent.isLeader()).toBe(false);
    await settle(sim, stopped);
    expect(n1.pg.running).toBe(false);
    expect(await sim.runUntil(() => sim.leaderName() !== null && sim.node(sim.leaderName()!).pg.isPrimary, 30_000)).toBe(true);
  });

  it('a scheduled restart runs when due; one whose role filter does not match is dropped', async () => {
    const sim = await healthy();
    const n2 = sim.node('n2');
    const at = (ms: number) => ({ date: new Date(sim.clock.now() + ms), offsetMinutes: 0 });
    const starts = n2.pg.starts;
    expect(n2.agent!.scheduleRestart({ schedule: at(8000), role: 'primary' })).toBe(true);
    expect(n2.agent!.scheduleRestart({ schedule: at(8000), role: 'primary' })).toBe(false);
    expect(await sim.runUntil(() => n2.agent!.scheduledRestart() === null, 30_000)).toBe(true);
    await sim.runUntil(() => false, 10_000);
    expect(n2.pg.starts).toBe(starts);
    expect(n2.agent!.scheduleRestart({ schedule: at(8000), role: 'replica' })).toBe(true);
    expect(await sim.runUntil(() => n2.pg.state === 'starting', 30_000)).toBe(true);
    expect(n2.pg.starts).toBe(starts + 1);
    expect(n2.agent!.scheduledRestart()).toBeNull();
    expect(await sim.runUntil(() => n2.pg.up && n2.pg.streaming, 30_000)).toBe(true);
  });

  it('a switchover moves the fence with the key and the old primary follows the new one', async () => {
    const sim = await healthy();
    sim.inject({ kind: 'switchover', candidate: 'n2' });
    expect(await sim.runUntil(() => sim.leaderName() === 'n2' && sim.node('n1').pg.up && sim.node('n1').pg.streaming, 60_000), sim.trace.join('\n')).toBe(true);
    expect(sim.node('n2').fence!.isArmed).toBe(true);
    expect(sim.node('n1').fence!.isArmed).toBe(false);
    expect(sim.node('n1').pg.upstream).toBe('n2');
  });
});

describe('events and facts', () => {
  it('an outcome reported while the facts are read waits for the next decision (a bootstrap is not cancelled)', async () => {
    const sim = new SimCluster({ seed: 5, nodes: 1, faults: [] });
    const pg = sim.node('n1').pg;
    const read = pg.facts.bind(pg);
    // Facts as they were when the cycle read them, handed over later (a slow pg_controldata, a query).
    pg.facts = async () => {
      const f = await read();
      await sim.clock.sleep('pg:n1', 4000);
      return f;
    };
    expect(await sim.runUntil(() => sim.leaderName() === 'n1' && pg.isPrimary, 60_000), sim.trace.join('\n')).toBe(true);
    expect(sim.trace.join('\n')).not.toMatch(/FATAL|removing initialize key/);
  });
});

describe('long actions', () => {
  it('cancel reaches the child process the action runs, and the end comes back as an event', async () => {
    const events: HaEvent[] = [];
    const runner = new LongActionRunner(silentLogger, () => undefined, () => 0, (e) => events.push(e));
    const t0 = performance.now();
    const done = runner.run('restart', 'restart', async (signal) => (await runCommand('/bin/sleep', ['30'], { signal })).code === 0);
    expect(runner.run('promote', 'promote', async () => true)).toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    runner.cancel();
    expect(await done).toBeInstanceOf(Error);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(events).toEqual([
      { type: 'long_action_started', name: 'restart', label: 'restart', since: 0 },
      { type: 'long_action_done', name: 'restart', ok: false },
    ]);
    expect(runner.running).toBeNull();
  });
});
