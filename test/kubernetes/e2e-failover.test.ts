/**
 * End to end on the Kubernetes DCS: three real `pgha run` agents with PostgreSQL 15 on the Kubernetes
 * API emulator (Endpoints mode), the agents authenticated with a token the emulator restricts to the
 * RBAC Role of examples/kubernetes/rbac.yaml. The role label follows promotion and demotion, the
 * leader Endpoints carry the primary's address, Services selecting on the role label route to the
 * right Pod, Debian's real `patronictl` and pgha's own ctl list the pgha cluster with the right
 * leader, a switchover, SIGTERM and SIGKILL of the primary's agent (and postmaster) move the leader, and a hung
 * API server makes the primary stop taking writes within ttl.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { pidAlive } from '@pgha/core';
import { processState } from '../../core/src/postgres/processes.js';
import { startEmulator, type RunningEmulator } from './harness.js';

const RBAC = fileURLToPath(new URL('../../examples/kubernetes/rbac.yaml', import.meta.url));
const PATRONICTL = '/usr/bin/patronictl';
const AGENT_TOKEN = 'agent-token-limited-by-rbac';
let emu: RunningEmulator;
let cluster: TestCluster;

async function podRoles(): Promise<Record<string, string | undefined>> {
  const k = cluster.k8s!;
  const pods = await emu.api.list(k.namespace, 'pods', `cluster-name=${cluster.scope}`);
  return Object.fromEntries(pods.map((p) => [p.metadata.name, p.metadata.labels?.role]));
}

/** Pods the endpoints controller put behind a Service (by targetRef name). */
async function serviceTargets(name: string): Promise<string[]> {
  const ep = await emu.api.get(cluster.k8s!.namespace, 'endpoints', name);
  return (ep?.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.targetRef?.name)).sort();
}

async function patronictlList(): Promise<string> {
  if (!existsSync(PATRONICTL)) throw new Error(`${PATRONICTL} is missing: apt-get install patroni (or run scripts/install-deps.sh)`);
  const k = cluster.k8s!;
  const cfg = join(cluster.root, 'patronictl.yml');
  writeFileSync(cfg, stringify({ scope: cluster.scope, kubernetes: { namespace: k.namespace, labels: k.labels, use_endpoints: true } }));
  const { stdout } = await promisify(execFile)(PATRONICTL, ['-c', cfg, 'list'], {
    env: { PATH: process.env.PATH, HOME: '/tmp', LANG: 'C.UTF-8', KUBECONFIG: k.kubeconfig }, timeout: 30_000,
  });
  return stdout;
}

/** pgha's own patronictl-compatible verbs, reading the cluster through the plugin (ctl mode). */
async function pghaCtl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '-c', cluster.nodes[0]!.configPath], {
    env: { ...process.env, KUBECONFIG: cluster.k8s!.kubeconfig }, timeout: 60_000,
  });
  return stdout;
}

/** The member names patronictl shows as Leader (table rows `| name | host | Leader | ...`). */
function ctlLeaders(table: string): string[] {
  return table.split('\n').filter((l) => /\|\s*Leader\s*\|/.test(l)).map((l) => l.split('|')[1]!.trim());
}

beforeAll(async () => {
  emu = await startEmulator({ rbac: { [AGENT_TOKEN]: RBAC } });
  cluster = await TestCluster.start({
    nodes: 3, dcs: { kind: 'kubernetes', useEndpoints: true, emulator: emu, agentToken: AGENT_TOKEN },
    dynamic: { ttl: 20, loop_wait: 1, retry_timeout: 5 },
  });
  // What examples/kubernetes/services.yaml declares, for this cluster's labels.
  for (const role of ['primary', 'replica']) {
    const r = await emu.api.request('POST', `/api/v1/namespaces/${cluster.k8s!.namespace}/services`, {
      metadata: { name: `${cluster.scope}-${role}` },
      spec: { selector: { application: 'pgha', 'cluster-name': cluster.scope, role }, ports: [{ name: 'postgresql', port: 5432 }] },
    });
    expect(r.status).toBe(201);
  }
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await emu?.stop();
}, 120_000);

describe('pgha on the Kubernetes DCS (emulator, Endpoints mode, RBAC of the example Role)', () => {
  let leader: TestNode;

  it('bootstraps a leader and two streaming replicas; labels, Endpoints and Services follow', async () => {
    leader = await cluster.waitHealthy(2, 120_000).catch((e: Error) => {
      const why = cluster.nodes.map((n) => `--- ${n.name}\n${n.log().split('\n').filter((l) => /WARN|ERROR|Error/.test(l)).slice(-5).join('\n')}`).join('\n');
      throw new Error(`${e.message}\n${why}`);
    });
    const k = cluster.k8s!;
    await waitFor(async () => {
      const roles = await podRoles();
      return roles[leader.name] === 'primary' && Object.values(roles).filter((r) => r === 'replica').length === 2;
    }, 30_000, 'role labels primary/replica on the Pods');
    const ep = await waitFor(async () => {
      const e = await emu.api.get(k.namespace, 'endpoints', cluster.scope);
      return e?.subsets?.[0]?.ports?.[0]?.port === leader.pgPort ? e : null;
    }, 20_000, 'the leader Endpoints to carry the primary address');
    expect(ep.metadata.annotations).toMatchObject({ leader: leader.name, ttl: '20', transitions: '0' });
    expect(ep.subsets[0].addresses[0].targetRef.name).toBe(leader.name);
    expect(await serviceTargets(`${cluster.scope}-primary`)).toEqual([leader.name]);
    expect(await serviceTargets(`${cluster.scope}-replica`)).toEqual(cluster.nodes.filter((n) => n !== leader).map((n) => n.name).sort());
    // Nothing the agents did was refused by the Role.
    const refused = (await emu.api.audit()).filter((a) => a.code === 403);
    expect(refused).toEqual([]);
  }, 180_000);

  it("Debian's patronictl 3.0.2 lists the pgha cluster with the right leader", async () => {
    const table = await waitFor(async () => {
      const t = await patronictlList();
      return (t.match(/\|\s*(Replica|Sync Standby)\s*\|/g) ?? []).length === 2 ? t : null;
    }, 30_000, 'patronictl list to show the leader and two replicas');
    expect(ctlLeaders(table)).toEqual([leader.name]);
    for (const n of cluster.nodes) expect(table).toContain(n.name);
  }, 60_000);

  it("pgha's own ctl lists the cluster and switches over; the role labels flip both ways", async () => {
    expect(ctlLeaders(await pghaCtl('list'))).toEqual([leader.name]);
    const candidate = cluster.nodes.find((n) => n !== leader)!;
    const out = await pghaCtl('switchover', '--leader', leader.name, '--candidate', candidate.name, '--force');
    expect(out).toContain(`Successfully switched over to "${candidate.name}"`);
    const now = await cluster.waitHealthy(2, 90_000);
    expect(now.name).toBe(candidate.name);
    await waitFor(async () => {
      const roles = await podRoles();
      return roles[candidate.name] === 'primary' && roles[leader.name] === 'replica';
    }, 30_000, 'the role labels to follow the switchover');
    const ep = await emu.api.get(cluster.k8s!.namespace, 'endpoints', cluster.scope);
    expect(ep.metadata.annotations).toMatchObject({ leader: candidate.name, transitions: '1' });
    // The switchover request was consumed: the failover object holds no leader/member any more.
    await waitFor(async () => {
      const fo = await emu.api.get(cluster.k8s!.namespace, 'endpoints', `${cluster.scope}-failover`);
      return fo && !fo.metadata.annotations?.member;
    }, 20_000, 'the failover annotations to be cleared');
    expect(ctlLeaders(await patronictlList())).toEqual([candidate.name]);
    leader = now;
  }, 150_000);

  it('SIGTERM of the primary agent releases the lock: a replica takes over well before ttl', async () => {
    const old = await cluster.waitHealthy(2, 60_000);
    const t0 = Date.now();
    old.signalAgent('SIGTERM');
    const next = await waitFor(async () => {
      const e = await emu.api.get(cluster.k8s!.namespace, 'endpoints', cluster.scope);
      const l = e?.metadata?.annotations?.leader;
      return l && l !== old.name ? l : null;
    }, 15_000, 'a new leader after SIGTERM');
    expect(Date.now() - t0).toBeLessThan(10_000); // ttl is 20 s
    await old.proc!.exited;
    old.start();
    const healthy = await cluster.waitHealthy(2, 120_000);
    expect(healthy.name).toBe(next);
    await waitFor(async () => (await podRoles())[old.name] === 'replica', 60_000, `${old.name} labelled replica again`);
    leader = healthy;
  }, 180_000);

  it('SIGKILL of the primary agent and postmaster: a replica is promoted and relabelled; the old one rejoins as replica', async () => {
    const old = leader;
    const agentPid = old.proc!.pid;
    const pmPid = old.postmasterPid();
    expect(pmPid).toBeGreaterThan(0);
    process.kill(agentPid, 'SIGKILL');
    process.kill(pmPid!, 'SIGKILL');
    // Gone or a zombie (pidAlive: dead, waiting for its parent to reap it). SIGKILL waits for a process in
    // uninterruptible I/O, which on the loaded CI machine once took longer than 10 s: the bound is generous.
    await waitFor(() => !pidAlive(agentPid) && !pidAlive(pmPid!), 30_000,
      `the killed processes to be gone (agent ${agentPid} ${processState(agentPid) ?? 'gone'}, postmaster ${pmPid} ${processState(pmPid!) ?? 'gone'} when the wait began)`);
    await waitFor(async () => {
      try { await old.sql('SELECT 1'); return false; } catch { return true; }
    }, 20_000, `nothing to answer on ${old.name}'s port`);

    const started = Date.now();
    const next = await waitFor(async () => {
      const name = await cluster.leaderName();
      if (!name || name === old.name) return null;
      const n = cluster.node(name);
      return (await n.get('/primary')).status === 200 ? n : null;
    }, 90_000, 'a surviving replica to become the primary');
    // The old record expires ttl (20 s) after the survivors last saw it change, not before.
    expect(Date.now() - started).toBeGreaterThan(10_000);
    const k = cluster.k8s!;
    const ep = await waitFor(async () => {
      const e = await emu.api.get(k.namespace, 'endpoints', cluster.scope);
      return e?.subsets?.[0]?.ports?.[0]?.port === next.pgPort ? e : null;
    }, 20_000, 'the leader Endpoints to point at the new primary');
    expect(ep.metadata.annotations).toMatchObject({ leader: next.name, transitions: '3' });
    await waitFor(async () => (await podRoles())[next.name] === 'primary', 20_000, 'the new primary relabelled');
    expect(await serviceTargets(`${cluster.scope}-primary`)).toContain(next.name);
    expect(ctlLeaders(await patronictlList())).toEqual([next.name]);

    // The old primary comes back and follows the new one; its Pod is relabelled replica.
    old.start();
    await waitFor(async () => (await podRoles())[old.name] === 'replica', 120_000, `${old.name} to rejoin and be labelled replica`);
    const healthy = await cluster.waitHealthy(2, 120_000);
    expect(healthy.name).toBe(next.name);
    expect(await serviceTargets(`${cluster.scope}-primary`)).toEqual([next.name]);
    expect((await emu.api.audit()).filter((a) => a.code === 403).map((a) => `${a.verb} ${a.resource}`)).toEqual([]);
  }, 300_000);

  it('a hung API server (SIGSTOP): the primary stops taking writes within ttl; after SIGCONT one primary again', async () => {
    const before = await cluster.waitHealthy(2, 120_000);
    await cluster.expectWritablePrimaries([before.name]);
    const t0 = Date.now();
    process.kill(emu.proc.pid, 'SIGSTOP');
    try {
      // Its leader update times out (retry_timeout 5 s): DCS not accessible, the leader demotes.
      await waitFor(async () => (await cluster.writablePrimaries()).length === 0, 30_000, 'the primary to stop accepting writes while the API hangs');
      expect(Date.now() - t0).toBeLessThan(20_000);
      await new Promise((r) => setTimeout(r, 3000));
      await cluster.expectWritablePrimaries([]);
    } finally {
      process.kill(emu.proc.pid, 'SIGCONT');
    }
    const after = await cluster.waitHealthy(2, 120_000);
    await cluster.expectWritablePrimaries([after.name]);
    await waitFor(async () => (await podRoles())[after.name] === 'primary', 30_000, 'the primary labelled again');
  }, 240_000);
});
