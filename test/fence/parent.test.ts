/**
 * The guarantee that does not depend on any single pgha process surviving, against real
 * PostgreSQL 15 started the way the agent starts it (as the fence's child):
 *  - the fence killed (alone, or with the agent's whole process tree): the postmaster gets the
 *    parent-death signal and no write is accepted afterwards;
 *  - the fence frozen together with its agent: the deadman (outside their process tree) kills
 *    PostgreSQL at the deadline;
 *  - the deadman killed alone: the fence still fires on its own;
 *  - between requests the agent writes its deadlines to a file: the fence and the deadman carry on
 *    to the last deadline written, and not past it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Bootstrap, FenceClient, processState, silentLogger } from '@pgha/core';
import { cleanupNodes, makeNode, PASSWORDS, type TestNode } from '../postgres/pg-helpers.js';
import { hasExited, isAlive, waitFor } from '../helpers/procs.js';
import { acceptsWrites } from '../helpers/writable.js';

const fences: FenceClient[] = [];
const canWrite = (node: TestNode) => acceptsWrites(node.port, 'postgres', PASSWORDS.superuser);

/** A primary whose postmaster the fence started, and the fence's client (the agent's stand-in). */
async function fencedPrimary(name: string): Promise<{ node: TestNode; fence: FenceClient }> {
  let fence!: FenceClient;
  const node = await makeNode(name, { launch: (o) => fence.spawnPostmaster(o) });
  fence = new FenceClient(node.dataDir, silentLogger, `${node.dir}/fence`, `${node.dir}/fence.log`);
  fences.push(fence);
  await new Bootstrap(node.pg, { initdb: [] }).bootstrap();
  await waitFor(() => canWrite(node), 30_000, 'the primary to accept writes');
  return { node, fence };
}

/** Direct children of `pid` from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).flatMap((e) => {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(e)] : [];
    } catch {
      return [];
    }
  });
}

afterEach(async () => {
  for (const c of fences.splice(0)) {
    const st = await Promise.race([c.existing().catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    c.close();
    if (st && isAlive(st.pid)) {
      try { process.kill(st.pid, 'SIGCONT'); process.kill(st.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
});

afterAll(async () => {
  await cleanupNodes();
}, 60_000);

describe('PostgreSQL as the fence\'s child', () => {
  it('the postmaster is the fence\'s child and dies with it (SIGKILL of the fence and its client together)', async () => {
    const { node, fence } = await fencedPrimary('parent1');
    const st = await fence.feed(60_000);
    const pm = node.pg.postmasterPid()!;
    expect(st.child).toBe(pm);
    expect(childrenOf(st.pid)).toContain(pm);
    // The agent's process tree killed at once: the client side goes away with the fence.
    process.kill(st.pid, 'SIGKILL');
    fence.close();
    const t0 = Date.now();
    await waitFor(() => hasExited(pm), 2000, 'the postmaster to die with its parent', 10);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await canWrite(node)).toBe(false);
  }, 60_000);

  it('the agent dies (PostgreSQL frozen), then the fence is killed: no stopped PostgreSQL process is left behind', async () => {
    const { node, fence } = await fencedPrimary('parent5');
    const st = await fence.feed(60_000);
    const pm = node.pg.postmasterPid()!;
    const kids = childrenOf(pm);
    expect(kids.length).toBeGreaterThan(0);
    fence.close(); // the agent dies: the fence freezes PostgreSQL
    await waitFor(() => processState(pm) === 'T', 2000, 'PostgreSQL frozen');
    process.kill(st.pid, 'SIGKILL'); // then the fence: the postmaster gets its parent-death signal
    await waitFor(() => hasExited(pm) || null, 2000, 'the postmaster to die', 20);
    // Its children were stopped and can never notice: the deadman (outside the tree) kills them.
    await waitFor(() => kids.every((k) => hasExited(k)) || null, 5000, 'no frozen orphan left', 50);
    expect(await canWrite(node)).toBe(false);
  }, 60_000);

  it('a disarmed fence with no client stays while it parents PostgreSQL; SIGTERM stops PostgreSQL, then the fence exits', async () => {
    const { node, fence } = await fencedPrimary('parent2');
    const st = await fence.status();
    fence.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(isAlive(st.pid)).toBe(true);
    expect(await canWrite(node)).toBe(true);
    const pm = node.pg.postmasterPid()!;
    process.kill(st.pid, 'SIGTERM');
    await waitFor(() => !isAlive(pm) && !isAlive(st.pid), 15_000, 'PostgreSQL and the fence to exit');
  }, 60_000);

  it('the fence frozen together with its agent: the deadman kills PostgreSQL at the deadline', async () => {
    const { node, fence } = await fencedPrimary('parent3');
    const st = await fence.feed(2000);
    const pm = node.pg.postmasterPid()!;
    const deadman = await waitFor(async () => (await fence.status()).deadman, 2000, 'the deadman to run');
    // Outside the fence's (and so the agent's) process tree: freezing or killing the tree misses it.
    expect(childrenOf(st.pid)).not.toContain(deadman);
    const t0 = Date.now();
    process.kill(st.pid, 'SIGSTOP'); // the agent (this test) stops feeding too
    try {
      await waitFor(() => hasExited(pm), 6000, 'the deadman to kill the postmaster', 20);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(1500);
      expect(took).toBeLessThan(4000);
      expect(await canWrite(node)).toBe(false);
    } finally {
      process.kill(st.pid, 'SIGCONT');
    }
  }, 60_000);

  it('a feed the agent only wrote to the deadline file carries the fence past its own deadline, and no further', async () => {
    const { node, fence } = await fencedPrimary('parent6');
    const t0 = Date.now();
    const first = await fence.feed(3000);
    const own = () => JSON.parse(readFileSync(`${node.dir}/fence.state`, 'utf8')) as { deadlineAt: number };
    expect(own().deadlineAt).toBe(first.deadlineAt);
    await new Promise((r) => setTimeout(r, 1000));
    const second = await fence.feed(3000); // more than a quarter of the fence's own deadline left: no request
    expect(own().deadlineAt).toBe(first.deadlineAt);
    expect(second.deadlineAt!).toBeGreaterThan(first.deadlineAt! + 800);
    expect((await fence.existing())!.deadlineAt).toBe(second.deadlineAt);
    const pm = node.pg.postmasterPid()!;
    await waitFor(() => Date.now() - t0 > 3400 || null, 5000, 'the fence\'s own deadline to pass', 20);
    expect(isAlive(pm)).toBe(true);
    await waitFor(() => hasExited(pm), 5000, 'the fence to kill the postmaster', 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3800);
    expect(Date.now() - t0).toBeLessThan(5500);
  }, 60_000);

  it('the fence frozen after a feed written only to the file: the deadman waits for that deadline, then kills', async () => {
    const { node, fence } = await fencedPrimary('parent7');
    const t0 = Date.now();
    const st = await fence.feed(3000);
    await waitFor(async () => (await fence.status()).deadman, 2000, 'the deadman to run');
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() - t0)));
    await fence.feed(3000);
    const pm = node.pg.postmasterPid()!;
    process.kill(st.pid, 'SIGSTOP');
    try {
      await waitFor(() => Date.now() - t0 > 3400 || null, 5000, 'the first deadline to pass', 20);
      expect(hasExited(pm)).toBe(false);
      await waitFor(() => hasExited(pm), 5000, 'the deadman to kill the postmaster', 20);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3800);
      expect(Date.now() - t0).toBeLessThan(5500);
      expect(await canWrite(node)).toBe(false);
    } finally {
      process.kill(st.pid, 'SIGCONT');
    }
  }, 60_000);

  it('the deadman killed alone: the fence still fires at the deadline, and a new feed brings a new deadman', async () => {
    const { node, fence } = await fencedPrimary('parent4');
    await fence.feed(60_000);
    const pm = node.pg.postmasterPid()!;
    const first = await waitFor(async () => (await fence.status()).deadman, 2000, 'the deadman to run');
    process.kill(first, 'SIGKILL');
    await waitFor(async () => (await fence.status()).deadman === null || null, 2000, 'the deadman to die');
    await fence.feed(1500);
    const second = await waitFor(async () => (await fence.status()).deadman, 2000, 'a new deadman');
    expect(second).not.toBe(first);
    await waitFor(() => hasExited(pm), 5000, 'the fence to kill the postmaster', 20);
    expect((await fence.status()).fired).toBe(1);
  }, 60_000);
});
