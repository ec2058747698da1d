/**
 * The primary's confirmation round and the replica's answer, against fake members: every member of
 * /failsafe must answer `200 Accepted` (one retry, 2 s timeout); the fence hook runs only then.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import type { PgFacts } from '../ha/types.js';
import { FailsafeSide, askMember, confirmWithPeers } from './failsafe-peers.js';
import type { PostgresPort } from './postgres-port.js';

type Answer = { status: number; text: string; lsn?: string } | 'error' | 'hang';

function fakeHttp(answers: Record<string, Answer[]>) {
  const calls: Array<{ url: string; body: unknown; method: string }> = [];
  const http = (async (input: URL | string, init: RequestInit = {}) => {
    const url = String(input);
    calls.push({ url, body: JSON.parse(String(init.body)), method: init.method ?? 'GET' });
    const host = new URL(url).hostname;
    const a = answers[host]?.shift() ?? 'error';
    if (a === 'error') throw new Error('ECONNREFUSED');
    if (a === 'hang') {
      return new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(new Error('timeout'))));
    }
    return new Response(a.text, { status: a.status, headers: a.lsn ? { lsn: a.lsn } : {} });
  }) as typeof fetch;
  return { http, calls };
}

const ping = { name: 'n1', conn_url: 'postgres://h1:5432/postgres', api_url: 'http://h1:8008/patroni' };
const topology = { n1: 'http://h1:8008/patroni', n2: 'http://h2:8008/patroni', n3: 'http://h3:8008/patroni' };

describe('the confirmation round', () => {
  it('POSTs the ping to /failsafe of every other member and needs all to accept', async () => {
    const { http, calls } = fakeHttp({ h2: [{ status: 200, text: 'Accepted', lsn: '100' }], h3: [{ status: 200, text: 'Accepted' }] });
    expect(await confirmWithPeers(http, 'n1', topology, ping, silentLogger)).toEqual({ ok: true, reason: '' });
    expect(calls.map((c) => [c.method, c.url]).sort()).toEqual([['POST', 'http://h2:8008/failsafe'], ['POST', 'http://h3:8008/failsafe']]);
    expect(calls[0]!.body).toEqual(ping);
  });

  it('retries once; a refusal, a 500 or silence means no', async () => {
    const retried = fakeHttp({ h2: ['error', { status: 200, text: 'Accepted' }], h3: [{ status: 200, text: 'Accepted' }] });
    expect((await confirmWithPeers(retried.http, 'n1', topology, ping, silentLogger)).ok).toBe(true);
    const refused = fakeHttp({ h2: [{ status: 500, text: 'Running as a leader' }], h3: [{ status: 200, text: 'Accepted' }] });
    expect(await confirmWithPeers(refused.http, 'n1', topology, ping, silentLogger)).toEqual({ ok: false, reason: 'failsafe: no confirmation from n2' });
    const wrongBody = fakeHttp({ h2: [{ status: 200, text: 'OK' }], h3: [{ status: 200, text: 'Accepted' }] });
    expect((await confirmWithPeers(wrongBody.http, 'n1', topology, ping, silentLogger)).ok).toBe(false);
    const silent = fakeHttp({ h2: ['hang', 'hang'], h3: [{ status: 200, text: 'Accepted' }] });
    const t0 = Date.now();
    expect(await confirmWithPeers(silent.http, 'n1', topology, ping, silentLogger)).toEqual({ ok: false, reason: 'failsafe: no confirmation from n2' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3900); // 2 attempts x 2 s
  }, 15_000);

  it('gives up at once when /failsafe does not list this node or is garbage; a single node needs nobody', async () => {
    const { http, calls } = fakeHttp({});
    expect((await confirmWithPeers(http, 'n9', topology, ping, silentLogger)).ok).toBe(false);
    expect((await confirmWithPeers(http, 'n1', 'garbage', ping, silentLogger)).ok).toBe(false);
    expect(calls).toEqual([]);
    expect((await confirmWithPeers(http, 'n1', { n1: 'http://h1:8008/patroni' }, ping, silentLogger)).ok).toBe(true);
  });

  it('a member without a usable api_url cannot confirm', async () => {
    const { http } = fakeHttp({});
    expect((await askMember(http, 'n2', 'not a url', ping, silentLogger)).accepted).toBe(false);
    expect((await confirmWithPeers(http, 'n1', { n1: 'u', n2: '' }, ping, silentLogger)).ok).toBe(false);
  });
});

function side(http: typeof fetch, facts: Partial<PgFacts>, onConfirmed: (t: number) => Promise<void>, now: { t: number }) {
  const pg = {
    facts: async () => ({ running: true, inRecovery: true, ...facts }) as PgFacts,
    lastLsn: async () => 4242,
  } as unknown as PostgresPort;
  return new FailsafeSide({
    name: 'n1', http, logger: silentLogger, monotonic: () => now.t, ttl: () => 30,
    urls: () => ({ connUrl: ping.conn_url, apiUrl: ping.api_url }), topology: () => topology, pg, lastWal: () => null, onConfirmed,
  });
}

describe('FailsafeSide', () => {
  it('extends the fence (onConfirmed with the send time) only after a full round of consent', async () => {
    const fed: number[] = [];
    const now = { t: 5000 };
    const ok = fakeHttp({ h2: [{ status: 200, text: 'Accepted' }], h3: [{ status: 200, text: 'Accepted' }] });
    const s = side(ok.http, { inRecovery: false }, async (t) => { fed.push(t); }, now);
    expect(await s.confirm()).toBe(true);
    expect(fed).toEqual([5000]);
    expect(s.active()).toBe(true);
    const partial = fakeHttp({ h2: [{ status: 200, text: 'Accepted' }] });
    const s2 = side(partial.http, { inRecovery: false }, async (t) => { fed.push(t); }, now);
    expect(await s2.confirm()).toBe(false);
    expect(fed).toEqual([5000]);
    expect(s2.active()).toBe(false);
  });

  it('a replica accepts (answering its WAL position) and remembers the primary for ttl; a primary refuses', async () => {
    const now = { t: 1000 };
    const replica = side(fakeHttp({}).http, {}, async () => undefined, now);
    expect(await replica.accept({ name: 'n2', conn_url: 'postgres://h2:5432/postgres', api_url: 'http://h2:8008/patroni' })).toBe(4242);
    expect(replica.active()).toBe(true);
    const unlocked = (await import('../ha/scenario.js')).scenario({ me: 'n1', leader: null }).cluster!;
    expect(replica.view(unlocked).leaderName).toBe('n2');
    now.t += 30_000;
    expect(replica.active()).toBe(false);
    expect(replica.view(unlocked).leaderName).toBeNull();
    const primary = side(fakeHttp({}).http, { inRecovery: false }, async () => undefined, now);
    expect(await primary.accept({ name: 'n2', conn_url: 'postgres://h2:5432/postgres', api_url: 'http://h2:8008/patroni' })).toBe('Running as a leader');
    expect(primary.active()).toBe(false);
    expect(await replica.accept({ name: 'n2' })).toBe('conn_url must be a non-empty string');
  });
});
