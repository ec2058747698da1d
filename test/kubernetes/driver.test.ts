/**
 * The Kubernetes driver's own rules on the emulator (beyond the shared conformance kit): the leader
 * lease instant (leaderLeaseSentAt), expiry judged by observation, conflicts as lost CAS, an
 * unreachable or refusing API as DcsError within retry_timeout, retriable HTTP codes, and watch
 * wake-ups (410 Gone wakes; bookmarks do not).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DcsError, ErrorCodes, clusterBasePath, type DcsContext } from '@pgha/core';
import { createKubernetesDriver, type KubernetesDriver } from '@pgha/dcs-kubernetes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userTempDir } from '../helpers/user.js';
import { startEmulator, writeKubeconfig, type RunningEmulator } from './harness.js';

let emu: RunningEmulator;
const opened: KubernetesDriver[] = [];
let seq = 0;

beforeAll(async () => {
  emu = await startEmulator({ bookmarkMs: 200 });
  delete process.env.KUBERNETES_SERVICE_HOST;
  process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-drv'), emu.url, emu.token);
});

afterAll(async () => {
  await Promise.allSettled(opened.map((d) => d.close()));
  await emu?.stop();
});

function ctxFor(scope: string, name: string, ttl = 3, retryTimeout = 2): DcsContext {
  return { name, scope, namespace: '/service', basePath: clusterBasePath('/service', scope), ttl, loopWait: 1, retryTimeout, ctl: false };
}

async function cluster(n: number, section: Record<string, unknown> = {}, ttl = 3) {
  const scope = `drv${process.pid}x${++seq}`;
  const drivers: KubernetesDriver[] = [];
  for (let i = 1; i <= n; i++) {
    await emu.api.createPod('drv', `${scope}-n${i}`, { application: 'pgha', 'cluster-name': scope });
    const d = createKubernetesDriver(ctxFor(scope, `${scope}-n${i}`, ttl), { namespace: 'drv', labels: { application: 'pgha' }, ...section });
    opened.push(d);
    drivers.push(d);
  }
  return { scope, drivers };
}

const leaderOf = async (d: KubernetesDriver) => (await d.loadCluster()).find((x) => x.key === 'leader')?.value ?? null;

describe('leaderLeaseSentAt', () => {
  it('is the send instant of the write that renewed the record; no one sees it expire before T + ttl', async () => {
    const { scope, drivers: [a, b] } = await cluster(2);
    expect(a!.leaderLeaseSentAt()).toBeNull();
    await b!.loadCluster();
    const before = performance.now();
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    const t1 = a!.leaderLeaseSentAt()!;
    expect(t1).toBeGreaterThanOrEqual(before);
    expect(t1).toBeLessThanOrEqual(performance.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(await a!.updateLeader(null as never)).toBe(true);
    const t2 = a!.leaderLeaseSentAt()!;
    expect(t2).toBeGreaterThan(t1 + 250);
    // B watches the renewal arrive, then polls until it judges the record expired.
    expect(await leaderOf(b!)).toBe(`${scope}-n1`);
    let expiredAt = 0;
    while (!expiredAt) {
      if ((await leaderOf(b!)) === null) expiredAt = performance.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(expiredAt).toBeGreaterThanOrEqual(t2 + 3000);
    expect(expiredAt).toBeLessThan(t2 + 3000 + 2000);
    // The holder still believes it holds the lease until it tries to renew; then it is told it lost.
    expect(await b!.attemptToAcquireLeader()).toBe(true);
    expect(await a!.updateLeader(null as never)).toBe(false);
    expect(a!.leaderLeaseSentAt()).toBeNull();
    expect(b!.leaderLeaseSentAt()).not.toBeNull();
    expect(await b!.deleteLeader(null)).toBe(true);
    expect(b!.leaderLeaseSentAt()).toBeNull();
  }, 30_000);

  it('is null after a ctl client or a failed acquisition', async () => {
    const { drivers: [a, b] } = await cluster(2);
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    expect(await b!.attemptToAcquireLeader()).toBe(false);
    expect(b!.leaderLeaseSentAt()).toBeNull();
  });
});

describe('expiry judged by observation', () => {
  it('ignores the times written in the record (another clock): valid for ttl from when it was seen', async () => {
    const { scope, drivers: [b] } = await cluster(1);
    // A record written by a machine whose clock is decades behind, and one whose clock is ahead.
    for (const renewTime of ['1970-01-01T00:00:00+00:00', '2099-01-01T00:00:00+00:00']) {
      await emu.api.request('DELETE', `/api/v1/namespaces/drv/configmaps/${scope}-leader`);
      const r = await emu.api.request('POST', '/api/v1/namespaces/drv/configmaps', {
        metadata: { name: `${scope}-leader`, labels: { application: 'pgha', 'cluster-name': scope }, annotations: { leader: 'elsewhere', renewTime, acquireTime: renewTime, ttl: '3', transitions: '4' } },
      });
      expect(r.status).toBe(201);
      const seen = performance.now();
      expect(await leaderOf(b!)).toBe('elsewhere');
      expect(await b!.attemptToAcquireLeader()).toBe(false);
      while ((await leaderOf(b!)) !== null) await new Promise((res) => setTimeout(res, 100));
      expect(performance.now() - seen).toBeGreaterThanOrEqual(3000);
      expect(await b!.attemptToAcquireLeader()).toBe(true);
      expect((await emu.api.get('drv', 'configmaps', `${scope}-leader`)).metadata.annotations.transitions).toBe('5');
      expect(await b!.deleteLeader(null)).toBe(true);
    }
  }, 30_000);

  it('a follower whose last look is older than ttl still cannot take a lock its holder kept renewing', async () => {
    const { drivers: [a, b] } = await cluster(2);
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    await b!.loadCluster();
    const until = performance.now() + 4000;
    while (performance.now() < until) {
      expect(await a!.updateLeader(null as never)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
    }
    // B has not looked for longer than ttl; its acquisition reads fresh and sees a changed record.
    expect(await b!.attemptToAcquireLeader()).toBe(false);
    expect(a!.leaderLeaseSentAt()).not.toBeNull();
    expect(await a!.updateLeader(null as never)).toBe(true);
  }, 30_000);

  it('when the holder is gone, followers racing for the expired lock: exactly one wins', async () => {
    const { drivers } = await cluster(4);
    const [a, ...followers] = drivers;
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    await Promise.all(followers.map((f) => f.loadCluster()));
    await new Promise((r) => setTimeout(r, 3300));
    expect((await Promise.all(followers.map((f) => leaderOf(f)))).every((l) => l === null)).toBe(true);
    const won = await Promise.all(followers.map((f) => f.attemptToAcquireLeader()));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(followers.filter((f) => f.leaderLeaseSentAt() !== null)).toHaveLength(1);
    expect(await a!.updateLeader(null as never)).toBe(false);
  }, 30_000);
});

describe('compare-and-swap on resourceVersion', () => {
  it('a write raced by another writer is a lost CAS (false), not an error', async () => {
    const { scope, drivers: [a] } = await cluster(1);
    expect(await a!.setConfigValue('{"ttl":30}')).toBe(true);
    const cfg = (await a!.loadCluster()).find((n) => n.key === 'config')!;
    // Another client (kubectl, Patroni) changes the object in between.
    const r = await emu.api.request('PATCH', `/api/v1/namespaces/drv/configmaps/${scope}-config`, { metadata: { annotations: { other: 'x' } } }, 'application/merge-patch+json');
    expect(r.status).toBe(200);
    expect(await a!.setConfigValue('{"ttl":40}', cfg.version)).toBe(false);
    expect(await a!.setConfigValue('{"ttl":40}', r.body.metadata.resourceVersion)).toBe(true);
  });

  it('the leader record carries Patroni annotations; transitions count holder changes', async () => {
    const { scope, drivers: [a, b] } = await cluster(2, { use_endpoints: true, pod_ip: '10.1.2.3', ports: [{ name: 'pg', port: 6432 }] });
    await a!.loadCluster(); // the HA loop always reads before it acquires; the Pod's identity comes from that list
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    let ep = await emu.api.get('drv', 'endpoints', scope);
    expect(ep.metadata.annotations).toMatchObject({ leader: `${scope}-n1`, ttl: '3', transitions: '0' });
    expect(ep.metadata.annotations.acquireTime).toBe(ep.metadata.annotations.renewTime);
    expect(ep.subsets).toEqual([{ addresses: [expect.objectContaining({ ip: '10.1.2.3', targetRef: expect.objectContaining({ kind: 'Pod', name: `${scope}-n1` }) })], ports: [{ name: 'pg', port: 6432 }] }]);
    expect(await a!.deleteLeader(null)).toBe(true);
    ep = await emu.api.get('drv', 'endpoints', scope);
    expect(ep.metadata.annotations.leader).toBeUndefined();
    expect(ep.subsets ?? []).toEqual([]);
    await b!.loadCluster();
    expect(await b!.attemptToAcquireLeader()).toBe(true);
    ep = await emu.api.get('drv', 'endpoints', scope);
    expect(ep.metadata.annotations).toMatchObject({ leader: `${scope}-n2`, transitions: '1' });
    const svc = await emu.api.get('drv', 'services', `${scope}-config`);
    expect(svc).toBeNull(); // created only with the config object
    expect(await b!.setConfigValue('{}')).toBe(true);
    expect((await emu.api.get('drv', 'services', `${scope}-config`)).spec.clusterIP).toBe('None');
  });
});

describe('a write whose answer is lost', () => {
  it('is recognised as ours when the retry meets 409 (the first send applied)', async () => {
    const { scope, drivers: [b] } = await cluster(1);
    await b!.loadCluster();
    expect(await b!.setConfigValue('{}')).toBe(true);
    // A proxy that forwards everything but drops the answer of the first PATCH of the leader object.
    let dropped = 0;
    const target = new URL(emu.url);
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
          if (req.method === 'PATCH' && req.url?.includes(`/configmaps/${scope}-leader`) && dropped === 0) {
            dropped++;
            ur.resume();
            ur.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(ur.statusCode!, ur.headers);
          ur.pipe(res);
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-proxy'), `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, emu.token);
      const a = createKubernetesDriver(ctxFor(scope, `${scope}-n1`, 3, 5), { namespace: 'drv', labels: { application: 'pgha' } });
      opened.push(a);
      await emu.api.request('POST', '/api/v1/namespaces/drv/configmaps', { metadata: { name: `${scope}-leader`, labels: { application: 'pgha', 'cluster-name': scope } } });
      await a.loadCluster();
      const t0 = performance.now();
      expect(await a.attemptToAcquireLeader()).toBe(true);
      expect(dropped).toBe(1);
      expect(a.leaderLeaseSentAt()).toBeGreaterThanOrEqual(t0);
      expect((await emu.api.get('drv', 'configmaps', `${scope}-leader`)).metadata.annotations.leader).toBe(`${scope}-n1`);
    } finally {
      process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-drv'), emu.url, emu.token);
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});

describe('errors', () => {
  let fake: Server;
  let hits = 0;
  let mode: '503-then-ok' | '403' = '503-then-ok';

  beforeAll(async () => {
    fake = createServer((req, res) => {
      hits++;
      if (mode === '403') {
        res.writeHead(403, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ kind: 'Status', code: 403, message: 'forbidden by test' }));
      }
      if (hits <= 2) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        return res.end('{}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '5' }, items: [] }));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
  });

  afterAll(() => new Promise<void>((r) => fake.close(() => r())));

  function driverAt(url: string, section: Record<string, unknown> = {}, retryTimeout = 2): KubernetesDriver {
    process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-err'), url, 't');
    const d = createKubernetesDriver(ctxFor('errs', 'n1', 20, retryTimeout), { namespace: 'drv', ...section });
    process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-drv'), emu.url, emu.token);
    opened.push(d);
    return d;
  }

  it('an unreachable API is a DcsError within retry_timeout', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const d = driverAt(`http://127.0.0.1:${port}`);
    const t0 = performance.now();
    await expect(d.loadCluster()).rejects.toBeInstanceOf(DcsError);
    await expect(d.attemptToAcquireLeader()).rejects.toBeInstanceOf(DcsError);
    expect(performance.now() - t0).toBeLessThan(2 * 2000 + 1500);
  });

  it('retries 500/503/504 (and Retry-After) within the deadline', async () => {
    mode = '503-then-ok';
    hits = 0;
    const d = driverAt(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`);
    expect(await d.loadCluster()).toEqual([]);
    expect(hits).toBeGreaterThanOrEqual(4);
  });

  it('403 is a DcsError at once, unless retriable_http_codes lists it', async () => {
    mode = '403';
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const t0 = performance.now();
    const err = await driverAt(url).loadCluster().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DcsError);
    expect((err as DcsError).code).toBe(ErrorCodes.DCS_AUTH);
    expect((err as Error).message).toMatch(/403 forbidden by test/);
    expect(performance.now() - t0).toBeLessThan(1000);
    const t1 = performance.now();
    const err2 = await driverAt(url, { retriable_http_codes: [403] }, 1).loadCluster().catch((e: unknown) => e);
    expect((err2 as DcsError).code).toBe(ErrorCodes.DCS_TIMEOUT);
    expect(performance.now() - t1).toBeGreaterThan(900);
    expect(performance.now() - t1).toBeLessThan(2500);
  });
});

describe('watch', () => {
  it('bookmarks do not wake a follower; a renewal does; a stale resourceVersion (410 Gone) does', async () => {
    const { drivers: [a, b] } = await cluster(2, {}, 20);
    expect(await a!.attemptToAcquireLeader()).toBe(true);
    const leader = (await b!.loadCluster()).find((n) => n.key === 'leader')!;
    const ac = new AbortController();
    let t0 = performance.now();
    // The emulator sends a BOOKMARK every 200 ms: the watch must sleep through them.
    expect(await b!.watch(leader.version, 1200, ac.signal)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThan(1100);
    const w = b!.watch(leader.version, 10_000, ac.signal);
    await new Promise((r) => setTimeout(r, 200));
    t0 = performance.now();
    expect(await a!.updateLeader(null as never)).toBe(true);
    expect(await w).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
    await b!.loadCluster();
    await emu.api.request('POST', '/_emulator/compact');
    expect(await a!.updateLeader(null as never)).toBe(true);
    await emu.api.request('POST', '/_emulator/compact');
    t0 = performance.now();
    expect(await b!.watch(null, 10_000, ac.signal)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
  }, 30_000);
});

describe('https', () => {
  let tlsEmu: RunningEmulator;

  beforeAll(async () => { tlsEmu = await startEmulator({ tls: true }); });
  afterAll(async () => {
    process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-drv'), emu.url, emu.token);
    await tlsEmu?.stop();
  });

  it("verifies the server with the kubeconfig's certificate-authority or `cacert`, and refuses an unknown one", async () => {
    await tlsEmu.api.createPod('tls', 'tls-n1', { application: 'pgha', 'cluster-name': 'tlsdemo' });
    const make = (caInKubeconfig: boolean, section: Record<string, unknown> = {}) => {
      process.env.KUBECONFIG = writeKubeconfig(userTempDir('k8s-tls'), tlsEmu.url, tlsEmu.token, 'kind-kind', caInKubeconfig ? tlsEmu.caFile : null);
      const d = createKubernetesDriver(ctxFor('tlsdemo', 'tls-n1', 20, 2), { namespace: 'tls', labels: { application: 'pgha' }, ...section });
      opened.push(d);
      return d;
    };
    const a = make(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect((await a.loadCluster()).find((n) => n.key === 'leader')?.value).toBe('tls-n1');
    expect((await make(false, { cacert: tlsEmu.caFile! }).loadCluster()).find((n) => n.key === 'leader')?.value).toBe('tls-n1');
    const err = await make(false).loadCluster().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DcsError);
    expect(String((err as Error).message)).toMatch(/certificate|self.signed/i);
  });
});
