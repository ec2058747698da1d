/**
 * The fence against a real PostgreSQL 15: it freezes PostgreSQL the moment its armed agent goes
 * away, thaws it when a new agent feeds it, kills it when the feed deadline passes, and is
 * restarted and re-armed when it is itself killed.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Bootstrap, FenceClient, PrimaryGuard, KernelWatchdog, fenceTiming, processState, silentLogger, ConfigError } from '@pgha/core';
import { cleanupNodes, makeNode, PASSWORDS, type TestNode } from '../postgres/pg-helpers.js';
import { hasExited, isAlive, waitFor } from '../helpers/procs.js';
import { acceptsWrites } from '../helpers/writable.js';

const clients: FenceClient[] = [];

function client(node: TestNode): FenceClient {
  const c = new FenceClient(node.dataDir, silentLogger, `${node.dir}/fence`, `${node.dir}/fence.log`);
  clients.push(c);
  return c;
}

const canWrite = (node: TestNode) => acceptsWrites(node.port, 'postgres', PASSWORDS.superuser);

async function runningPrimary(name: string): Promise<TestNode> {
  const node = await makeNode(name);
  await new Bootstrap(node.pg, { initdb: [] }).bootstrap();
  await waitFor(() => canWrite(node), 30_000, 'the primary to accept writes');
  return node;
}

afterEach(async () => {
  for (const c of clients.splice(0)) {
    await c.disarm().catch(() => undefined);
    const st = await c.status().catch(() => null);
    c.close();
    if (st && isAlive(st.pid)) process.kill(st.pid, 'SIGKILL');
  }
});

afterAll(async () => {
  await cleanupNodes();
}, 60_000);

describe('fence', () => {
  it('freezes PostgreSQL when the armed agent disconnects, thaws on a new feed', async () => {
    const node = await runningPrimary('fence1');
    const a = client(node);
    const st = await a.ensure();
    expect(st.armed).toBe(false);
    await a.feed(30_000);
    expect(await canWrite(node)).toBe(true);
    a.close(); // the agent "dies"
    const pm = node.pg.postmasterPid()!;
    await waitFor(() => processState(pm) === 'T', 2000, 'the postmaster to be stopped');
    expect(await canWrite(node)).toBe(false);
    const b = client(node);
    expect((await b.ensure()).frozen).toBe(true);
    expect((await b.feed(30_000)).frozen).toBe(false);
    await waitFor(() => canWrite(node), 5000, 'writes after thawing');
  }, 60_000);

  it('kills PostgreSQL when the deadline passes without a feed', async () => {
    const node = await runningPrimary('fence2');
    const a = client(node);
    await a.feed(1500);
    const pm = node.pg.postmasterPid()!;
    const t0 = Date.now();
    await waitFor(() => hasExited(pm), 5000, 'the fence to kill the postmaster', 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1300);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect((await a.status()).fired).toBe(1);
  }, 60_000);

  it('a deadline file caught half written (two different numbers) extends nothing: it fires at its own deadline', async () => {
    const node = await runningPrimary('fence6');
    const a = client(node);
    const st = await a.feed(1500);
    const later = st.deadlineAt! + 5000;
    writeFileSync(`${node.dir}/fence.deadline`, `${later} ${later + 10}\n`);
    const pm = node.pg.postmasterPid()!;
    const t0 = Date.now();
    await waitFor(() => hasExited(pm), 5000, 'the fence to kill the postmaster', 20);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect((await a.status()).fired).toBe(1);
  }, 60_000);

  it('disarmed, it leaves PostgreSQL alone when the agent goes away', async () => {
    const node = await runningPrimary('fence3');
    const a = client(node);
    await a.feed(1000);
    await a.disarm();
    a.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await canWrite(node)).toBe(true);
  }, 60_000);

  it('a killed fence is restarted and re-armed by the guard', async () => {
    const node = await runningPrimary('fence4');
    const c = client(node);
    const guard = new PrimaryGuard(c, new KernelWatchdog('off', '/dev/watchdog', 15, silentLogger), { fireAfter: 15, safetyMargin: 5 }, silentLogger, () => performance.now());
    await c.ensure();
    await guard.lockRefreshed(performance.now());
    expect(guard.isArmed).toBe(true);
    const first = (await c.status()).pid;
    process.kill(first, 'SIGKILL');
    const second = await waitFor(async () => {
      const st = await c.status().catch(() => null);
      return st && st.pid !== first && st.armed ? st.pid : null;
    }, 5000, 'a new armed fence');
    expect(second).not.toBe(first);
    expect(guard.isArmed).toBe(true);
    expect(await canWrite(node)).toBe(true);
  }, 60_000);

  it('fire kills at once', async () => {
    const node = await runningPrimary('fence5');
    const a = client(node);
    await a.feed(60_000);
    const pm = node.pg.postmasterPid()!;
    await a.fire();
    await waitFor(() => hasExited(pm), 2000, 'the postmaster to die');
  }, 60_000);
});

describe('fence timing rule', () => {
  it('accepts Patroni defaults and rejects a margin that leaves no room for a refresh', () => {
    expect(fenceTiming({ ttl: 30, loopWait: 10, retryTimeout: 10 }, { safety_margin: 5 })).toEqual({ fireAfter: 25, safetyMargin: 5 });
    const half = fenceTiming({ ttl: 30, loopWait: 10, retryTimeout: 10 }, { safety_margin: -1 });
    expect(half.fireAfter).toBe(15);
    expect(half.warning).toMatch(/slower than 5s/);
    expect(() => fenceTiming({ ttl: 20, loopWait: 15, retryTimeout: 2 }, { safety_margin: 5 })).toThrow(ConfigError);
    expect(() => fenceTiming({ ttl: 20, loopWait: 15, retryTimeout: 2 }, { safety_margin: 5 })).toThrow(/watchdog.safety_margin: .*need loop_wait \(15\) < ttl - safety_margin/);
    expect(() => fenceTiming({ ttl: 30, loopWait: 1, retryTimeout: 5 }, { safety_margin: 0 })).toThrow(/at least 1 second/);
  });
});
