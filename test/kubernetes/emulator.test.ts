/**
 * The Kubernetes API emulator's own contract, as the real API server behaves (and as Patroni and
 * client-node rely on): authentication, create/replace/patch/delete with resourceVersion
 * preconditions, patch media types, selectors, watch semantics (backlog, initial state, selector
 * transitions, 410 Gone, bookmarks, timeoutSeconds), the endpoints controller and RBAC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { K8sAdmin } from './harness.js';
import { KubernetesEmulator } from './emulator/server.js';

let emu: KubernetesEmulator;
let api: K8sAdmin;
const NS = '/api/v1/namespaces/t';

beforeAll(async () => {
  emu = new KubernetesEmulator({
    tokens: ['admin', 'limited'], bookmarkMs: 100,
    rbac: { limited: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] },
  });
  api = new K8sAdmin(await emu.listen(), 'admin');
});

afterAll(async () => { await emu?.close(); });

/** Read watch events until `until` says stop (or the stream ends / times out). */
async function watchEvents(path: string, until: (evs: any[]) => boolean, token = 'admin', timeoutMs = 5000): Promise<any[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events: any[] = [];
  try {
    const res = await fetch(emu.url + path, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    let buf = '';
    for await (const chunk of res.body as any) {
      buf += Buffer.from(chunk).toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
      if (until(events)) break;
    }
  } catch { /* aborted */ } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe('Kubernetes API emulator', () => {
  it('authenticates bearer tokens and enforces RBAC rules per token', async () => {
    expect((await fetch(`${emu.url}${NS}/configmaps`)).status).toBe(401);
    expect((await new K8sAdmin(emu.url, 'wrong').request('GET', `${NS}/configmaps`)).status).toBe(401);
    const limited = new K8sAdmin(emu.url, 'limited');
    expect((await limited.request('GET', `${NS}/configmaps`)).status).toBe(200);
    const denied = await limited.request('POST', `${NS}/configmaps`, { metadata: { name: 'x' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect((await limited.request('GET', `${NS}/pods`)).status).toBe(403);
  });

  it('creates once (409 AlreadyExists), validates names, and versions every change', async () => {
    const c = await api.request('POST', `${NS}/configmaps`, { metadata: { name: 'cm1', labels: { app: 'a' }, annotations: { k: 'v' } } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'cm1', namespace: 't', uid: expect.any(String) } });
    expect((await api.request('POST', `${NS}/configmaps`, { metadata: { name: 'cm1' } })).body).toMatchObject({ code: 409, reason: 'AlreadyExists' });
    expect((await api.request('POST', `${NS}/configmaps`, { metadata: { name: 'Bad_Name' } })).status).toBe(422);
    const rv1 = Number(c.body.metadata.resourceVersion);
    const p = await api.request('PATCH', `${NS}/configmaps/cm1`, { metadata: { annotations: { k2: 'v2' } } }, 'application/merge-patch+json');
    expect(Number(p.body.metadata.resourceVersion)).toBeGreaterThan(rv1);
    // A no-op patch does not bump the version (as the real server).
    const same = await api.request('PATCH', `${NS}/configmaps/cm1`, { metadata: { annotations: { k2: 'v2' } } }, 'application/merge-patch+json');
    expect(same.body.metadata.resourceVersion).toBe(p.body.metadata.resourceVersion);
  });

  it('honours resourceVersion preconditions on PATCH, PUT and DELETE (409 Conflict)', async () => {
    const cur = (await api.request('GET', `${NS}/configmaps/cm1`)).body;
    const stale = String(Number(cur.metadata.resourceVersion) - 1);
    for (const ct of ['application/merge-patch+json', 'application/strategic-merge-patch+json']) {
      const r = await api.request('PATCH', `${NS}/configmaps/cm1`, { metadata: { resourceVersion: stale, annotations: { k: 'x' } } }, ct);
      expect(r.body).toMatchObject({ code: 409, reason: 'Conflict' });
    }
    const ok = await api.request('PATCH', `${NS}/configmaps/cm1`, { metadata: { resourceVersion: cur.metadata.resourceVersion, annotations: { k: null } } }, 'application/strategic-merge-patch+json');
    expect(ok.status).toBe(200);
    expect(ok.body.metadata.annotations).toEqual({ k2: 'v2' });
    expect((await api.request('PUT', `${NS}/configmaps/cm1`, { ...cur, metadata: { ...cur.metadata, resourceVersion: stale } })).status).toBe(409);
    expect((await api.request('PUT', `${NS}/configmaps/cm1`, { ...ok.body, data: { a: 'b' } })).status).toBe(200);
    expect((await api.request('DELETE', `${NS}/configmaps/cm1`, { preconditions: { resourceVersion: stale } })).status).toBe(409);
    // PUT creates Endpoints (AllowCreateOnUpdate) but not ConfigMaps.
    expect((await api.request('PUT', `${NS}/configmaps/nope`, { metadata: { name: 'nope' } })).status).toBe(404);
    expect((await api.request('PUT', `${NS}/endpoints/ep-put`, { metadata: { name: 'ep-put' }, subsets: [] })).status).toBe(200);
    expect((await api.request('PATCH', `${NS}/configmaps/nope`, { metadata: {} }, 'application/merge-patch+json')).status).toBe(404);
  });

  it('applies JSON patch, rejects unknown patch types and non-string annotations', async () => {
    const r = await api.request('PATCH', `${NS}/configmaps/cm1`, [{ op: 'add', path: '/metadata/annotations/j', value: 'p' }], 'application/json-patch+json');
    expect(r.body.metadata.annotations.j).toBe('p');
    expect((await api.request('PATCH', `${NS}/configmaps/cm1`, [{ op: 'test', path: '/metadata/annotations/j', value: 'q' }], 'application/json-patch+json')).status).toBe(422);
    expect((await api.request('PATCH', `${NS}/configmaps/cm1`, {}, 'application/apply-patch+yaml')).status).toBe(415);
    expect((await api.request('PATCH', `${NS}/configmaps/cm1`, { metadata: { annotations: { n: 5 } } }, 'application/merge-patch+json')).status).toBe(400);
  });

  it('selects by label (=, !=, in, notin, exists, !exists) and by metadata.name', async () => {
    for (const [name, labels] of [['s1', { app: 'x', tier: 'db' }], ['s2', { app: 'x', tier: 'web' }], ['s3', { app: 'y' }]] as const) {
      await api.request('POST', `${NS}/configmaps`, { metadata: { name, labels } });
    }
    const names = async (q: string) => (await api.list('t', 'configmaps', q)).map((o) => o.metadata.name).filter((n: string) => /^s\d$/.test(n));
    expect(await names('app=x')).toEqual(['s1', 's2']);
    expect(await names('app=x,tier!=db')).toEqual(['s2']);
    expect(await names('tier in (db,web)')).toEqual(['s1', 's2']);
    expect(await names('app notin (x)')).toEqual(['s3']);
    expect(await names('tier')).toEqual(['s1', 's2']);
    expect(await names('!tier')).toEqual(['s3']);
    const byName = await api.request('GET', `${NS}/configmaps?fieldSelector=metadata.name%3Ds2`);
    expect(byName.body.items.map((o: any) => o.metadata.name)).toEqual(['s2']);
    expect(byName.body.metadata.resourceVersion).toMatch(/^\d+$/);
    const del = await api.request('DELETE', `${NS}/configmaps?labelSelector=app%3Dx`);
    expect(del.body.items.map((o: any) => o.metadata.name).sort()).toEqual(['s1', 's2']);
    expect(await names('')).toEqual(['s3']);
  });

  it('watches: the initial state, the backlog after a resourceVersion, selector transitions, timeoutSeconds', async () => {
    await api.request('POST', `${NS}/configmaps`, { metadata: { name: 'w1', labels: { watch: 'me' } } });
    const initial = await watchEvents(`${NS}/configmaps?watch=true&labelSelector=watch%3Dme`, (e) => e.length >= 1);
    expect(initial.map((e) => [e.type, e.object.metadata.name])).toEqual([['ADDED', 'w1']]);
    const rv = (await api.request('GET', `${NS}/configmaps`)).body.metadata.resourceVersion;
    await api.request('PATCH', `${NS}/configmaps/w1`, { metadata: { annotations: { a: '1' } } }, 'application/merge-patch+json');
    await api.request('PATCH', `${NS}/configmaps/w1`, { metadata: { labels: { watch: null } } }, 'application/merge-patch+json');
    // Python clients send watch=True (Go's ParseBool accepts it).
    const evs = await watchEvents(`${NS}/configmaps?watch=True&labelSelector=watch%3Dme&resourceVersion=${rv}`, (e) => e.length >= 2);
    expect(evs.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    const t0 = Date.now();
    const none = await watchEvents(`${NS}/configmaps?watch=1&labelSelector=nothing%3Dhere&timeoutSeconds=1`, () => false);
    expect(none).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('answers a resourceVersion older than its event window with 410 Gone, and sends bookmarks only when asked', async () => {
    const rv = (await api.request('GET', `${NS}/configmaps`)).body.metadata.resourceVersion;
    await api.request('POST', `${NS}/configmaps`, { metadata: { name: 'gone1' } });
    await api.request('POST', '/_emulator/compact');
    const evs = await watchEvents(`${NS}/configmaps?watch=true&resourceVersion=${rv}`, (e) => e.length >= 1);
    expect(evs[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    const now = (await api.request('GET', `${NS}/configmaps`)).body.metadata.resourceVersion;
    const marks = await watchEvents(`${NS}/configmaps?watch=true&resourceVersion=${now}&allowWatchBookmarks=true`, (e) => e.length >= 2);
    expect(marks.map((e) => e.type)).toEqual(['BOOKMARK', 'BOOKMARK']);
    expect(marks[0].object.metadata.resourceVersion).toBe(now);
    const quiet = await watchEvents(`${NS}/configmaps?watch=true&resourceVersion=${now}&timeoutSeconds=1`, () => false);
    expect(quiet).toEqual([]);
  });

  it('keeps Endpoints of a Service with a selector in step with the Pods it selects', async () => {
    await api.request('POST', `${NS}/services`, { metadata: { name: 'prim' }, spec: { selector: { role: 'primary' }, ports: [{ port: 5432 }] } });
    await api.createPod('t', 'p1', { role: 'replica' }, '10.0.0.1');
    await api.createPod('t', 'p2', { role: 'primary' }, '10.0.0.2');
    const targets = async () => ((await api.get('t', 'endpoints', 'prim'))?.subsets?.[0]?.addresses ?? []).map((a: any) => a.targetRef.name);
    expect(await targets()).toEqual(['p2']);
    await api.request('PATCH', `${NS}/pods/p1`, { metadata: { labels: { role: 'primary' } } }, 'application/strategic-merge-patch+json');
    await api.request('PATCH', `${NS}/pods/p2`, { metadata: { labels: { role: 'replica' } } }, 'application/strategic-merge-patch+json');
    expect(await targets()).toEqual(['p1']);
    expect((await api.get('t', 'services', 'prim')).spec.clusterIP).toMatch(/^10\.96\./);
  });
});
