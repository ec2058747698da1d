/**
 * Validates the Consul emulator with an independent client: Debian's real Patroni 3.0.2 (its own
 * `consul:` backend on python-consul) forms a 3-node PostgreSQL 15 cluster on the emulator, with ACLs
 * on and register_service, and fails over when its leader is killed (session TTL expiry → the
 * leader key is deleted → a replica acquires it).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCtl } from '../ctl/run-ctl.js';
import { waitFor } from '../helpers/procs.js';
import { startConsulEmulator, type EmulatorProcess } from './emulator/process.js';
import { PatroniCluster } from './patroni.js';

const TOKEN = 'patroni-acl-token';
let consul: EmulatorProcess;
let cluster: PatroniCluster;

async function kv(path: string): Promise<Array<{ Key: string; Value: string | null; Session?: string; ModifyIndex: number }>> {
  const res = await fetch(`${consul.url}/v1/kv/${path}?recurse`, { headers: { 'X-Consul-Token': TOKEN }, signal: AbortSignal.timeout(3000) });
  if (res.status === 404) return [];
  return (await res.json()) as Array<{ Key: string; Value: string | null; Session?: string; ModifyIndex: number }>;
}

const decode = (v: string | null) => (v ? Buffer.from(v, 'base64').toString('utf8') : '');

async function leaderKey(): Promise<{ name: string; session?: string } | null> {
  const rows = await kv(`service/${cluster.scope}/leader`);
  return rows[0] ? { name: decode(rows[0].Value), session: rows[0].Session } : null;
}

async function streamingReplicas(leader: string): Promise<number> {
  const node = cluster.nodes.find((n) => n.name === leader)!;
  const { body } = await node.api('/patroni');
  return Array.isArray(body.replication) ? body.replication.filter((r: { state: string }) => r.state === 'streaming').length : 0;
}

describe('Consul emulator validated by real Patroni 3.0.2', () => {
  beforeAll(async () => {
    consul = await startConsulEmulator({ aclToken: TOKEN });
    cluster = await PatroniCluster.start({ consulHost: consul.hostPort, token: TOKEN, registerService: true });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await consul?.stop();
  }, 90_000);

  it('forms a 3-node cluster: leader key held by a session, members bound to sessions, services registered', async () => {
    const leader = await waitFor(async () => {
      const l = await leaderKey();
      return l && (await streamingReplicas(l.name)) === 2 ? l : null;
    }, 150_000, `a Patroni leader with 2 streaming replicas (logs under ${cluster.root})`, 500);
    expect(leader.session).toMatch(/^[0-9a-f-]{36}$/);
    const rows = await kv(`service/${cluster.scope}/`);
    const keys = rows.map((r) => r.Key.slice(`service/${cluster.scope}/`.length));
    expect(keys).toEqual(expect.arrayContaining(['config', 'initialize', 'leader', 'members/patroni1', 'members/patroni2', 'members/patroni3']));
    for (const m of rows.filter((r) => r.Key.includes('/members/'))) expect(m.Session).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(decode(rows.find((r) => r.Key.endsWith('/config'))!.Value))).toMatchObject({ ttl: 20 });

    // register_service: the agent has one service per member, tagged by role, with an HTTP check the emulator polls.
    const services = await waitFor(async () => {
      const res = await fetch(`${consul.url}/v1/health/service/${cluster.scope}?passing`, { headers: { 'X-Consul-Token': TOKEN } });
      const list = (await res.json()) as Array<{ Service: { ID: string; Tags: string[] } }>;
      return list.length === 3 ? list : null;
    }, 30_000, 'three passing services in the catalog');
    const byId = new Map(services.map((s) => [s.Service.ID, s.Service.Tags]));
    expect(byId.get(`${cluster.scope}/${leader.name}`)).toEqual(expect.arrayContaining(['master', 'primary']));
    for (const n of cluster.nodes.filter((x) => x.name !== leader.name)) expect(byId.get(`${cluster.scope}/${n.name}`)).toContain('replica');

    // The ACL is enforced: without the token the same read is refused.
    const anonymous = await fetch(`${consul.url}/v1/kv/service/${cluster.scope}/leader`);
    expect(anonymous.status).toBe(403);

    const list = cluster.ctlList();
    expect(list.find((r) => r.Role === 'Leader')?.Member).toBe(leader.name);
    expect(list.filter((r) => r.Role === 'Replica')).toHaveLength(2);

    // pgha's own ctl (the @pgha/dcs-consul driver) reads the cluster Patroni wrote.
    const cfg = join(cluster.root, 'pgha-ctl.yml');
    writeFileSync(cfg, stringify({ scope: cluster.scope, consul: { host: consul.hostPort, token: TOKEN } }));
    const r = await runCtl(['-c', cfg, 'list', '-f', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const ours = JSON.parse(r.stdout) as Array<{ Member: string; Role: string }>;
    expect(ours.filter((x) => x.Role === 'Leader').map((x) => x.Member)).toEqual([leader.name]);
    expect(ours.map((x) => x.Member).sort()).toEqual(['patroni1', 'patroni2', 'patroni3']);
  }, 180_000);

  it('fails over when the leader (Patroni and PostgreSQL) is killed', async () => {
    const before = (await leaderKey())!;
    const old = cluster.nodes.find((n) => n.name === before.name)!;
    const pm = old.postmasterPid();
    expect(pm).not.toBeNull();
    const t0 = Date.now();
    process.kill(old.proc!.pid, 'SIGKILL');
    process.kill(pm!, 'SIGKILL');
    await old.proc!.exited;
    // Session TTL is ttl/2 = 10 s; the emulator, like Consul, invalidates it after 2 × TTL without renewal.
    const next = await waitFor(async () => {
      const l = await leaderKey();
      return l && l.name !== before.name ? l : null;
    }, 90_000, 'a new Patroni leader', 500);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(8_000); // not before the session could expire
    expect(next.session).not.toBe(before.session);
    const survivor = cluster.nodes.find((n) => n.name === next.name)!;
    await waitFor(async () => (await survivor.api('/primary')).status === 200, 60_000, `${next.name} to run as primary`);
    await waitFor(async () => (await streamingReplicas(next.name)) === 1, 90_000, 'the other replica to follow the new leader');
    // The dead member's key went with its session (behavior: delete).
    const members = (await kv(`service/${cluster.scope}/members/`)).map((r) => r.Key.split('/').pop());
    expect(members).not.toContain(before.name);
    const list = cluster.ctlList(survivor.configPath);
    expect(list.find((r) => r.Role === 'Leader')?.Member).toBe(next.name);
  }, 200_000);
});
