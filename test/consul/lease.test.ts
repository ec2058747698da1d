/**
 * The Consul driver's leader lease and failure rules, attacked on the emulator:
 *  - leaderLeaseSentAt() = T such that the leader key cannot vanish before T + ttl, checked against
 *    the instant the key really disappears when Consul expires sessions at their earliest (TTL) and
 *    when the server raises the session TTL to its session_ttl_min;
 *  - a refresh puts back a leader key that vanished with its session, as Patroni (never one deleted
 *    on purpose or taken by another member);
 *  - an unreachable or frozen Consul gives DcsError within retry_timeout; a refused token DCS_AUTH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DcsError, ErrorCodes, type DcsDriver } from '@pgha/core';
import { freePort } from '../helpers/ports.js';
import { startConsulEmulator, type EmulatorProcess } from './emulator/process.js';
import { driverFor, sectionFor, testContext, uniqueScope } from './harness.js';

let earliest: EmulatorProcess;
let raisedMin: EmulatorProcess;
const opened: DcsDriver[] = [];

beforeAll(async () => {
  [earliest, raisedMin] = await Promise.all([
    startConsulEmulator({ sessionTtlMin: '1s', ttlMultiplier: 1 }),
    startConsulEmulator({ sessionTtlMin: '3s', ttlMultiplier: 1 }),
  ]);
});
afterAll(async () => {
  await Promise.allSettled(opened.map((d) => d.close()));
  await Promise.all([earliest?.stop(), raisedMin?.stop()]);
});

async function open(consul: EmulatorProcess, name: string, scope: string, over: Parameters<typeof testContext>[2] = {}, extra: Record<string, unknown> = {}) {
  const d = await driverFor(testContext(name, scope, over), sectionFor(consul, extra));
  opened.push(d);
  return d;
}

/** performance.now() when the leader key is first seen gone (polled every 20 ms). */
async function leaderGoneAt(consul: EmulatorProcess, scope: string, limitMs: number): Promise<number> {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    const res = await fetch(`${consul.url}/v1/kv/service/${scope}/leader`);
    await res.arrayBuffer();
    if (res.status === 404) return performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('leader key never expired');
}

describe('consul leader lease (leaderLeaseSentAt)', () => {
  it('is null without the leader key, and bounds the key\'s earliest expiry from below once held', async () => {
    const scope = uniqueScope('lease');
    const a = await open(earliest, 'a', scope);
    const b = await open(earliest, 'b', scope);
    expect(a.leaderLeaseSentAt()).toBeNull();
    const before = performance.now();
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const t1 = a.leaderLeaseSentAt()!;
    // Session TTL is ttl/2 = 2 s: T = send time - 2 s, so T + ttl = send time + session TTL.
    expect(t1).toBeGreaterThanOrEqual(before - 2000 - 5);
    expect(t1).toBeLessThanOrEqual(performance.now() - 2000 + 5);
    expect(b.leaderLeaseSentAt()).toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await a.updateLeader({} as never)).toBe(true);
    const t2 = a.leaderLeaseSentAt()!;
    expect(t2).toBeGreaterThan(t1 + 1000);
    // No more renewals: the key must outlive T + ttl, and (earliest expiry) not by much.
    const gone = await leaderGoneAt(earliest, scope, 10_000);
    expect(gone).toBeGreaterThanOrEqual(t2 + 4000);
    expect(gone).toBeLessThan(t2 + 4000 + 1500);
    // Gone with its session: the refresh puts the key back on a new one, and the bound starts again.
    const sessionBefore = a.sessionId;
    expect(await a.updateLeader({} as never)).toBe(true);
    expect(a.sessionId).not.toBe(sessionBefore);
    expect(a.leaderLeaseSentAt()!).toBeGreaterThan(gone - 2000);
  });

  it('follows the server minimum when ttl/2 is below session_ttl_min (session TTL raised to 3 s)', async () => {
    const scope = uniqueScope('leasemin');
    const a = await open(raisedMin, 'a', scope);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const t = a.leaderLeaseSentAt()!;
    const gone = await leaderGoneAt(raisedMin, scope, 10_000);
    expect(gone).toBeGreaterThanOrEqual(t + 4000);
    expect(gone).toBeLessThan(t + 4000 + 1500);
    const res = await fetch(`${raisedMin.url}/v1/session/list`);
    expect(await res.json()).toEqual([]);
  });

  it('is null once the session holding the key is gone, even after a new session was made for the member key', async () => {
    const scope = uniqueScope('leasegone');
    const a = await open(earliest, 'a', scope);
    expect(await a.touchMember({ state: 'running' })).toBe(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const old = a.sessionId!;
    expect(a.leaderLeaseSentAt()).not.toBeNull();
    await fetch(`${earliest.url}/v1/session/destroy/${old}`, { method: 'PUT' });
    await new Promise((r) => setTimeout(r, 1100)); // past loop_wait: the next touch renews, finds it gone, makes another
    expect(await a.touchMember({ state: 'running', role: 'primary' })).toBe(true);
    expect(a.sessionId).not.toBe(old);
    expect(a.leaderLeaseSentAt()).toBeNull();
  });

  it('a refresh puts back a leader key that vanished with its session if nobody took it (Patroni); not one deleted on purpose, not one taken', async () => {
    const scope = uniqueScope('vanished');
    const get = async () => {
      const res = await fetch(`${earliest.url}/v1/kv/service/${scope}/leader`);
      return res.status === 404 ? null : ((await res.json()) as any[])[0];
    };
    const a = await open(earliest, 'a', scope);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const old = a.sessionId!;
    // The session ends (an outage longer than ttl) and the key goes with it (behavior delete).
    await fetch(`${earliest.url}/v1/session/destroy/${old}`, { method: 'PUT' });
    expect(await get()).toBeNull();
    expect(await a.updateLeader({ session: old } as never)).toBe(true);
    expect(a.sessionId).not.toBe(old);
    expect((await get()).Session).toBe(a.sessionId);
    expect(a.leaderLeaseSentAt()).not.toBeNull();
    // Deleted while the session that held it lives: released on purpose, not put back.
    await fetch(`${earliest.url}/v1/kv/service/${scope}/leader`, { method: 'DELETE' });
    expect(await a.updateLeader({ session: a.sessionId } as never)).toBe(false);
    expect(await get()).toBeNull();
    expect(a.leaderLeaseSentAt()).toBeNull();
    // Gone with the session, but another member took it first: left alone.
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const before = a.sessionId!;
    await fetch(`${earliest.url}/v1/session/destroy/${before}`, { method: 'PUT' });
    const b = await open(earliest, 'b', scope);
    expect(await b.attemptToAcquireLeader()).toBe(true);
    expect(await a.updateLeader({ session: before } as never)).toBe(false);
    expect((await get()).Session).toBe(b.sessionId);
  });

  it('a ttl change moves the leader key to the new session without ever deleting it', async () => {
    const scope = uniqueScope('rebind');
    const a = await open(earliest, 'a', scope);
    expect(await a.touchMember({ state: 'running' })).toBe(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const get = async (k: string) => (await (await fetch(`${earliest.url}/v1/kv/service/${scope}/${k}`)).json() as any[])[0];
    const before = await get('leader');
    const old = a.sessionId;
    a.setTtl(6);
    expect(await a.watch(before.ModifyIndex, 5000, new AbortController().signal)).toBe(true); // at once, as Patroni
    expect(await a.updateLeader({} as never)).toBe(true);
    const after = await get('leader');
    expect(a.sessionId).not.toBe(old);
    expect(after.Session).toBe(a.sessionId);
    expect(after.CreateIndex).toBe(before.CreateIndex); // never deleted in between
    expect(after.LockIndex).toBe(before.LockIndex + 1);
    expect((await get('members/a')).Session).toBe(a.sessionId);
    const info = await (await fetch(`${earliest.url}/v1/session/info/${a.sessionId}`)).json() as any[];
    expect(info[0].TTL).toBe('3s');
    const t = a.leaderLeaseSentAt()!;
    expect(t).toBeLessThanOrEqual(performance.now() - 3000);
  });

  it('is null after deleting the key and in ctl mode', async () => {
    const scope = uniqueScope('leasedel');
    const a = await open(earliest, 'a', scope);
    const ctl = await open(earliest, 'ctl', scope, { ctl: true });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(a.leaderLeaseSentAt()).not.toBeNull();
    expect(await ctl.attemptToAcquireLeader()).toBe(false);
    expect(ctl.leaderLeaseSentAt()).toBeNull();
    expect(await a.deleteLeader(null)).toBe(true);
    expect(a.leaderLeaseSentAt()).toBeNull();
  });
});

describe('consul driver failure rules', () => {
  it('an unreachable Consul is a DcsError within retry_timeout', async () => {
    const port = await freePort();
    const d = await driverFor(testContext('a', uniqueScope('down')), { host: `127.0.0.1:${port}` });
    opened.push(d);
    for (const op of [() => d.loadCluster(), () => d.attemptToAcquireLeader(), () => d.setConfigValue('{}', 5)]) {
      const t0 = performance.now();
      await expect(op()).rejects.toBeInstanceOf(DcsError);
      expect(performance.now() - t0).toBeLessThan(2000 + 1000);
    }
  });

  it('a frozen Consul (SIGSTOP) is a DcsError within retry_timeout, and a watch still ends on time', async () => {
    const consul = await startConsulEmulator({ sessionTtlMin: '1s' });
    try {
      const scope = uniqueScope('frozen');
      const a = await open(consul, 'a', scope);
      const b = await open(consul, 'b', scope);
      expect(await a.attemptToAcquireLeader()).toBe(true);
      const version = (await b.loadCluster()).find((n) => n.key === 'leader')!.version;
      process.kill(consul.proc.pid, 'SIGSTOP');
      try {
        let t0 = performance.now();
        await expect(a.updateLeader({} as never)).rejects.toBeInstanceOf(DcsError);
        expect(performance.now() - t0).toBeLessThan(2000 + 1000);
        t0 = performance.now();
        await expect(b.loadCluster()).rejects.toBeInstanceOf(DcsError);
        expect(performance.now() - t0).toBeLessThan(2000 + 1000);
        t0 = performance.now();
        expect(await b.watch(version, 2500, new AbortController().signal)).toBe(false);
        expect(performance.now() - t0).toBeLessThan(2500 + 1500);
      } finally {
        process.kill(consul.proc.pid, 'SIGCONT');
      }
    } finally {
      await consul.stop();
    }
  });

  it('a watch returns promptly when aborted', async () => {
    const scope = uniqueScope('abort');
    const a = await open(earliest, 'a', scope);
    const b = await open(earliest, 'b', scope);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const version = (await b.loadCluster()).find((n) => n.key === 'leader')!.version;
    const ac = new AbortController();
    const t0 = performance.now();
    const w = b.watch(version, 30_000, ac.signal);
    setTimeout(() => ac.abort(), 300);
    expect(await w).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('dc: the agent\'s datacenter works; another is a DcsError within retry_timeout', async () => {
    const ok = await open(earliest, 'a', uniqueScope('dc'), {}, { dc: 'dc1' });
    expect(await ok.loadCluster()).toEqual([]);
    const other = await open(earliest, 'a', uniqueScope('dc'), {}, { dc: 'elsewhere' });
    const t0 = performance.now();
    await expect(other.loadCluster()).rejects.toThrow(/No path to datacenter/);
    expect(performance.now() - t0).toBeLessThan(2000 + 1000);
  });

  it('checks: the session is bound to them, so a failing check takes the leader key away', async () => {
    const check = `pgha-${uniqueScope('chk')}`;
    await fetch(`${earliest.url}/v1/agent/check/register`, { method: 'PUT', body: JSON.stringify({ Name: check, TTL: '60s', Status: 'passing' }) });
    const scope = uniqueScope('checks');
    const a = await open(earliest, 'a', scope, {}, { checks: ['serfHealth', check] });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const info = await (await fetch(`${earliest.url}/v1/session/info/${a.sessionId}`)).json() as any[];
    expect(info[0].NodeChecks).toEqual(['serfHealth', check]);
    await fetch(`${earliest.url}/v1/agent/check/fail/${check}`, { method: 'PUT' });
    // Consul drops the key at once, before T + ttl: why the plugin warns that checks void the lease bound.
    expect((await fetch(`${earliest.url}/v1/kv/service/${scope}/leader`)).status).toBe(404);
    // While the check is critical Consul refuses a new session on it: a DcsError at once, no key.
    const t0 = performance.now();
    await expect(a.updateLeader({} as never)).rejects.toThrow(/critical state/);
    await expect(a.attemptToAcquireLeader()).rejects.toThrow(/critical state/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(a.leaderLeaseSentAt()).toBeNull();
  });

  it('a refused ACL token is a DcsError with DCS_AUTH, at once', async () => {
    const consul = await startConsulEmulator({ aclToken: 'right' });
    try {
      const d = await open(consul, 'a', uniqueScope('acl'), {}, { token: 'wrong' });
      const t0 = performance.now();
      const err = await d.loadCluster().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DcsError);
      expect((err as DcsError).code).toBe(ErrorCodes.DCS_AUTH);
      expect(performance.now() - t0).toBeLessThan(1000);
      const ok = await open(consul, 'b', uniqueScope('acl'), {}, { token: 'right' });
      expect(await ok.loadCluster()).toEqual([]);
    } finally {
      await consul.stop();
    }
  });
});
