/**
 * The Consul emulator's semantics, checked over its HTTP API with plain fetch (in process, so fast):
 * what Consul documents for KV CAS/lock/unlock, indexes, blocking queries, sessions (TTL, behaviours,
 * lock-delay, checks), transactions and ACLs. The independent-client proof is emulator-patroni.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulEmulator } from './emulator/server.js';

let emu: ConsulEmulator;
let acl: ConsulEmulator;
let base: string;

async function call(method: string, path: string, body?: string | object, headers: Record<string, string> = {}, url = base) {
  const res = await fetch(url + path, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), headers });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, text, json, index: Number(res.headers.get('x-consul-index') ?? NaN) };
}

async function session(body: object = {}): Promise<string> {
  const r = await call('PUT', '/v1/session/create', body);
  expect(r.status, r.text).toBe(200);
  return r.json.ID as string;
}

let n = 0;
const key = () => `t/${++n}/k`;

beforeAll(async () => {
  emu = new ConsulEmulator({ sessionTtlMinMs: 1000 });
  await emu.listen();
  base = emu.url;
  acl = new ConsulEmulator({ acl: { managementToken: 'root', readTokens: ['reader'] } });
  await acl.listen();
});
afterAll(async () => { await Promise.all([emu?.close(), acl?.close()]); });

describe('consul emulator: KV', () => {
  it('PUT/GET with base64 values, flags, Create/ModifyIndex and X-Consul-Index; 404 for a missing key', async () => {
    const k = key();
    expect((await call('PUT', `/v1/kv/${k}?flags=42`, 'v1')).json).toBe(true);
    const g = await call('GET', `/v1/kv/${k}`);
    expect(g.json[0]).toMatchObject({ Key: k, Flags: 42, Value: Buffer.from('v1').toString('base64'), LockIndex: 0 });
    expect(g.index).toBe(g.json[0].ModifyIndex);
    await call('PUT', `/v1/kv/${k}`, 'v2');
    const g2 = await call('GET', `/v1/kv/${k}`);
    expect(g2.json[0].CreateIndex).toBe(g.json[0].CreateIndex);
    expect(g2.json[0].ModifyIndex).toBeGreaterThan(g.json[0].ModifyIndex);
    expect((await call('GET', `/v1/kv/${k}?raw`)).text).toBe('v2');
    const missing = await call('GET', `/v1/kv/${k}-nope`);
    expect(missing.status).toBe(404);
    expect(missing.index).toBeGreaterThan(0);
  });

  it('cas: 0 creates only when absent, N only when ModifyIndex matches; DELETE ?cas likewise', async () => {
    const k = key();
    expect((await call('PUT', `/v1/kv/${k}?cas=0`, 'a')).json).toBe(true);
    expect((await call('PUT', `/v1/kv/${k}?cas=0`, 'b')).json).toBe(false);
    const idx = (await call('GET', `/v1/kv/${k}`)).json[0].ModifyIndex;
    expect((await call('PUT', `/v1/kv/${k}?cas=${idx + 1}`, 'c')).json).toBe(false);
    expect((await call('PUT', `/v1/kv/${k}?cas=${idx}`, 'd')).json).toBe(true);
    expect((await call('DELETE', `/v1/kv/${k}?cas=${idx}`)).json).toBe(false);
    const idx2 = (await call('GET', `/v1/kv/${k}`)).json[0].ModifyIndex;
    expect((await call('DELETE', `/v1/kv/${k}?cas=${idx2}`)).json).toBe(true);
    expect((await call('GET', `/v1/kv/${k}`)).status).toBe(404);
    expect((await call('PUT', `/v1/kv/${k}?cas=x`, 'e')).status).toBe(400);
  });

  it('recurse and keys list a prefix; a delete under it raises the prefix index (tombstones)', async () => {
    const p = `t/${++n}/`;
    await call('PUT', `/v1/kv/${p}a`, '1');
    await call('PUT', `/v1/kv/${p}b/c`, '2');
    const list = await call('GET', `/v1/kv/${p}?recurse`);
    expect(list.json.map((e: { Key: string }) => e.Key)).toEqual([`${p}a`, `${p}b/c`]);
    expect((await call('GET', `/v1/kv/${p}?keys&separator=/`)).json).toEqual([`${p}a`, `${p}b/`]);
    await call('DELETE', `/v1/kv/${p}a`);
    const after = await call('GET', `/v1/kv/${p}?recurse`);
    expect(after.index).toBeGreaterThan(list.index);
    expect((await call('DELETE', `/v1/kv/${p}?recurse`)).json).toBe(true);
    expect((await call('GET', `/v1/kv/${p}?recurse`)).status).toBe(404);
  });

  it('blocking query: waits for a change past ?index, returns at ?wait otherwise; ?stale with ?consistent is refused', async () => {
    const k = key();
    await call('PUT', `/v1/kv/${k}`, 'x');
    const idx = (await call('GET', `/v1/kv/${k}`)).index;
    let t0 = performance.now();
    const noChange = await call('GET', `/v1/kv/${k}?index=${idx}&wait=1s`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(noChange.index).toBe(idx);
    t0 = performance.now();
    const pending = call('GET', `/v1/kv/${k}?index=${idx}&wait=30s`);
    await new Promise((r) => setTimeout(r, 200));
    await call('PUT', `/v1/kv/${k.replace(/k$/, 'other')}`, 'unrelated');
    await call('DELETE', `/v1/kv/${k}`);
    const woke = await pending;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(woke.status).toBe(404);
    expect(woke.index).toBeGreaterThan(idx);
    expect((await call('GET', `/v1/kv/${k}?stale&consistent`)).status).toBe(400);
    expect((await call('GET', `/v1/kv/${k}?dc=elsewhere`)).text).toBe('No path to datacenter');
  });
});

describe('consul emulator: sessions and locks', () => {
  it('acquire locks (LockIndex++), a second session is refused, release frees; unknown sessions are a 500', async () => {
    const k = key();
    const s1 = await session({ TTL: '10s', LockDelay: '0s' });
    const s2 = await session({ LockDelay: '0s' });
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s1}`, 'one')).json).toBe(true);
    expect((await call('GET', `/v1/kv/${k}`)).json[0]).toMatchObject({ Session: s1, LockIndex: 1 });
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s2}`, 'two')).json).toBe(false);
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s1}`, 'again')).json).toBe(true);
    expect((await call('GET', `/v1/kv/${k}`)).json[0].LockIndex).toBe(1);
    expect((await call('PUT', `/v1/kv/${k}?release=${s2}`, 'x')).json).toBe(false);
    expect((await call('PUT', `/v1/kv/${k}?release=${s1}`, 'freed')).json).toBe(true);
    expect((await call('GET', `/v1/kv/${k}`)).json[0].Session).toBeUndefined();
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s2}`, 'two')).json).toBe(true);
    expect((await call('GET', `/v1/kv/${k}`)).json[0].LockIndex).toBe(2);
    const bad = await call('PUT', `/v1/kv/${k}?acquire=00000000-0000-0000-0000-000000000000`, 'x');
    expect(bad.status).toBe(500);
    expect(bad.text).toMatch(/^invalid session/);
  });

  it('TTL below session_ttl_min is refused as Patroni expects; renew answers the session or 404', async () => {
    const r = await call('PUT', '/v1/session/create', { TTL: '0.5s' });
    expect(r.status).toBe(500);
    expect(r.text).toMatch(/^Invalid Session TTL '500000000', must be between \[1s=24h0m0s\]/);
    const s = await session({ TTL: '2s' });
    const renew = await call('PUT', `/v1/session/renew/${s}`);
    expect(renew.json[0]).toMatchObject({ ID: s, TTL: '2s', Behavior: 'release' });
    await call('PUT', `/v1/session/destroy/${s}`);
    expect((await call('PUT', `/v1/session/renew/${s}`)).status).toBe(404);
    expect((await call('GET', `/v1/session/info/${s}`)).json).toEqual([]);
  });

  it('expiry: not before TTL, at 2 x TTL (Consul\'s multiplier); behavior delete removes held keys, release unlocks them', async () => {
    const kd = key();
    const kr = key();
    const sd = await session({ TTL: '1s', Behavior: 'delete', LockDelay: '0s' });
    const sr = await session({ TTL: '1s', LockDelay: '0s' });
    await call('PUT', `/v1/kv/${kd}?acquire=${sd}`, 'd');
    await call('PUT', `/v1/kv/${kr}?acquire=${sr}`, 'r');
    await new Promise((r) => setTimeout(r, 1300));
    expect((await call('GET', `/v1/kv/${kd}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await call('GET', `/v1/kv/${kd}`)).status).toBe(404);
    const released = (await call('GET', `/v1/kv/${kr}`)).json[0];
    expect(released.Session).toBeUndefined();
    expect(Buffer.from(released.Value, 'base64').toString()).toBe('r');
  });

  it('lock-delay blocks re-acquiring an invalidated lock; an explicit release does not', async () => {
    const k = key();
    const s1 = await session({ LockDelay: '1s' });
    const s2 = await session({ LockDelay: '0s' });
    await call('PUT', `/v1/kv/${k}?acquire=${s1}`, 'a');
    await call('PUT', `/v1/session/destroy/${s1}`);
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s2}`, 'b')).json).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call('PUT', `/v1/kv/${k}?acquire=${s2}`, 'b')).json).toBe(true);
    const s3 = await session({ LockDelay: '15s' });
    const k2 = key();
    await call('PUT', `/v1/kv/${k2}?acquire=${s3}`, 'a');
    await call('PUT', `/v1/kv/${k2}?release=${s3}`, 'a');
    expect((await call('PUT', `/v1/kv/${k2}?acquire=${s2}`, 'b')).json).toBe(true);
  });

  it('sessions bound to a check are refused while it is critical and invalidated when it fails', async () => {
    expect((await call('PUT', '/v1/agent/check/register', { Name: 'alive', TTL: '30s' })).status).toBe(200);
    const refused = await call('PUT', '/v1/session/create', { Checks: ['serfHealth', 'alive'] });
    expect(refused.text).toBe("Check 'alive' is in critical state");
    await call('PUT', '/v1/agent/check/pass/alive');
    const s = await session({ Checks: ['serfHealth', 'alive'] });
    await call('PUT', '/v1/agent/check/fail/alive');
    expect((await call('GET', `/v1/session/info/${s}`)).json).toEqual([]);
    expect((await call('PUT', '/v1/session/create', { Checks: ['nope'] })).text).toBe("Missing check 'nope' registration");
  });
});

describe('consul emulator: transactions, agent, ACL', () => {
  it('txn commits every op at one index or none, answering 409 with the failed op', async () => {
    const k1 = key();
    const k2 = key();
    const ok = await call('PUT', '/v1/txn', [{ KV: { Verb: 'set', Key: k1, Value: 'YQ==' } }, { KV: { Verb: 'cas', Key: k2, Value: 'Yg==', Index: 0 } }]);
    expect(ok.status).toBe(200);
    expect(ok.json.Results[0].KV.ModifyIndex).toBe(ok.json.Results[1].KV.ModifyIndex);
    const conflict = await call('PUT', '/v1/txn', [{ KV: { Verb: 'set', Key: k1, Value: 'Yw==' } }, { KV: { Verb: 'cas', Key: k2, Value: 'Yw==', Index: 1 } }]);
    expect(conflict.status).toBe(409);
    expect(conflict.json.Errors).toEqual([{ OpIndex: 1, What: expect.stringContaining('index is stale') }]);
    expect((await call('GET', `/v1/kv/${k1}?raw`)).text).toBe('a');
  });

  it('txn ops apply in order: unlock by one session then lock by another moves a lock without deleting the key', async () => {
    const k = key();
    const s1 = await session({ LockDelay: '15s' });
    const s2 = await session();
    await call('PUT', `/v1/kv/${k}?acquire=${s1}`, 'v');
    const before = (await call('GET', `/v1/kv/${k}`)).json[0];
    const v = Buffer.from('v').toString('base64');
    const stale = await call('PUT', '/v1/txn', [{ KV: { Verb: 'check-index', Key: k, Index: before.ModifyIndex + 100 } }, { KV: { Verb: 'unlock', Key: k, Value: v, Session: s1 } }]);
    expect(stale.status).toBe(409);
    expect((await call('PUT', '/v1/txn', [{ KV: { Verb: 'lock', Key: k, Value: v, Session: s2 } }])).json.Errors[0].What).toContain('lock is already held');
    const moved = await call('PUT', '/v1/txn', [
      { KV: { Verb: 'check-index', Key: k, Index: before.ModifyIndex } },
      { KV: { Verb: 'unlock', Key: k, Value: v, Session: s1 } },
      { KV: { Verb: 'lock', Key: k, Value: v, Session: s2 } },
    ]);
    expect(moved.status, moved.text).toBe(200);
    const after = (await call('GET', `/v1/kv/${k}`)).json[0];
    expect(after).toMatchObject({ Session: s2, CreateIndex: before.CreateIndex, LockIndex: before.LockIndex + 1 });
  });

  it('agent endpoints: self, service register/deregister (PUT only), catalog', async () => {
    const self = await call('GET', '/v1/agent/self');
    expect(self.json.Config).toMatchObject({ Datacenter: 'dc1', NodeName: emu.nodeName });
    expect(self.json.DebugConfig.SessionTTLMin).toBe('1s');
    expect((await call('GET', '/v1/status/leader')).json).toBe('127.0.0.1:8300');
    expect((await call('PUT', '/v1/agent/service/register', { Name: 'db', ID: 'db/1', Tags: ['primary'], Port: 5432, Check: { TTL: '10s', Status: 'passing' } })).status).toBe(200);
    expect((await call('GET', '/v1/catalog/service/db?tag=primary')).json[0]).toMatchObject({ ServiceID: 'db/1', ServicePort: 5432 });
    expect((await call('GET', '/v1/health/service/db?passing')).json).toHaveLength(1);
    expect((await call('GET', '/v1/agent/service/deregister/db%2F1')).status).toBe(405);
    expect((await call('PUT', '/v1/agent/service/deregister/db%2F1')).status).toBe(200);
    expect((await call('GET', '/v1/catalog/service/db')).json).toEqual([]);
  });

  it('ACL: anonymous and unknown tokens get 403; read tokens cannot write; header, bearer and ?token= all work', async () => {
    expect((await call('GET', '/v1/kv/a', undefined, {}, acl.url)).text).toBe('Permission denied');
    expect((await call('GET', '/v1/kv/a', undefined, { 'X-Consul-Token': 'guess' }, acl.url)).text).toBe('ACL not found');
    expect((await call('PUT', '/v1/kv/a', 'v', { 'X-Consul-Token': 'root' }, acl.url)).json).toBe(true);
    expect((await call('GET', '/v1/kv/a?token=reader', undefined, {}, acl.url)).status).toBe(200);
    expect((await call('GET', '/v1/kv/a', undefined, { Authorization: 'Bearer reader' }, acl.url)).status).toBe(200);
    expect((await call('PUT', '/v1/kv/a', 'w', { 'X-Consul-Token': 'reader' }, acl.url)).status).toBe(403);
    expect((await call('GET', '/v1/status/leader', undefined, {}, acl.url)).status).toBe(200);
  });
});
