/**
 * The emulator proven with an independent client: Debian's real Patroni 3.0.2 (its own Kubernetes
 * client on urllib3, nothing of ours) forms a 3-node cluster with real PostgreSQL 15 on the emulator
 * and fails over when its leader is killed; pgha's plugin then reads the cluster Patroni wrote.
 * Agents run on 127.0.0.1 as the test user; pod names and IPs come from the environment variables
 * Patroni reads (PATRONI_NAME, PATRONI_KUBERNETES_POD_IP, ...), the kubeconfig from KUBECONFIG.
 * One suite per layout (patroni-endpoints.test.ts, patroni-configmaps.test.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dcs, clusterBasePath } from '@pgha/core';
import { createKubernetesDriver } from '@pgha/dcs-kubernetes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN_DIR, requirePostgresBinaries } from '../helpers/cluster.js';
import { freePorts } from '../helpers/ports.js';
import { isAlive, startProc, waitFor, type Proc } from '../helpers/procs.js';
import { runAsOptions, userTempDir } from '../helpers/user.js';
import { startEmulator, writeKubeconfig, type RunningEmulator } from './harness.js';

const PATRONI = '/usr/bin/patroni';

interface PNode { name: string; dir: string; pgPort: number; apiPort: number; proc: Proc | null }

function requirePatroni(): void {
  if (!existsSync(PATRONI)) throw new Error(`${PATRONI} is missing: apt-get install patroni python3-kubernetes (or run scripts/install-deps.sh)`);
}

async function restJson(node: PNode, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, { signal: AbortSignal.timeout(3000) });
  return res.json();
}

function postmasterPid(node: PNode): number | null {
  const f = join(node.dir, 'data', 'postmaster.pid');
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : null;
}

export function patroniOnEmulator(useEndpoints: boolean): void {
  const SCOPE = useEndpoints ? 'pgk8s' : 'pgcm';
  const NS = `patroni-${SCOPE}`;
  const LABELS = { application: 'patroni', 'cluster-name': SCOPE };
  const KIND = useEndpoints ? 'endpoints' : 'configmaps';
  const LEADER = useEndpoints ? SCOPE : `${SCOPE}-leader`;

  describe(`real Patroni 3.0.2 on the Kubernetes API emulator (${useEndpoints ? 'Endpoints' : 'ConfigMaps'})`, () => {
    let emu: RunningEmulator;
    const nodes: PNode[] = [];
    let kubeconfig = '';

    function start(node: PNode): void {
      const base = runAsOptions();
      node.proc = startProc(PATRONI, [join(node.dir, 'patroni.yml')], {
        ...base,
        env: {
          PATH: process.env.PATH, HOME: '/tmp', USER: base.env?.USER ?? process.env.USER, LANG: 'C.UTF-8',
          KUBECONFIG: kubeconfig,
          PATRONI_NAME: node.name,
          PATRONI_KUBERNETES_POD_IP: '127.0.0.1',
          PATRONI_KUBERNETES_NAMESPACE: NS,
          PATRONI_KUBERNETES_LABELS: '{application: patroni}',
          PATRONI_KUBERNETES_USE_ENDPOINTS: String(useEndpoints),
          PATRONI_KUBERNETES_PORTS: `[{"name": "postgresql", "port": ${node.pgPort}}]`,
        },
        logFile: join(node.dir, 'patroni.log'),
      });
    }

    beforeAll(async () => {
      requirePatroni();
      requirePostgresBinaries();
      emu = await startEmulator();
      const dir0 = userTempDir('patroni-k8s');
      kubeconfig = writeKubeconfig(dir0, emu.url, emu.token);
      const ports = await freePorts(6);
      for (let i = 0; i < 3; i++) {
        const name = `${SCOPE}-${i}`;
        const dir = userTempDir(`patroni-${i}`);
        const node: PNode = { name, dir, pgPort: ports[i * 2]!, apiPort: ports[i * 2 + 1]!, proc: null };
        nodes.push(node);
        await emu.api.createPod(NS, name, LABELS);
        writeFileSync(join(dir, 'patroni.yml'), stringify({
          scope: SCOPE,
          restapi: { listen: `127.0.0.1:${node.apiPort}`, connect_address: `127.0.0.1:${node.apiPort}` },
          bootstrap: {
            dcs: { ttl: 20, loop_wait: 2, retry_timeout: 6, maximum_lag_on_failover: 1048576, postgresql: { use_pg_rewind: true } },
            initdb: [{ encoding: 'UTF8' }, { locale: 'C' }],
          },
          postgresql: {
            listen: `127.0.0.1:${node.pgPort}`, connect_address: `127.0.0.1:${node.pgPort}`,
            data_dir: join(dir, 'data'), bin_dir: BIN_DIR, pgpass: join(dir, 'pgpass'),
            authentication: { superuser: { username: 'postgres', password: 'su-secret' }, replication: { username: 'replicator', password: 'rep-secret' } },
            parameters: { unix_socket_directories: dir, shared_buffers: '16MB', max_connections: 20, max_wal_senders: 5 },
            pg_hba: ['local all all trust', 'host replication replicator 127.0.0.1/32 md5', 'host all all 127.0.0.1/32 md5'],
          },
        }));
      }
      nodes.forEach(start);
    }, 120_000);

    afterAll(async () => {
      await Promise.allSettled(nodes.map((n) => n.proc?.stop(20_000)));
      for (const n of nodes) {
        const pid = postmasterPid(n);
        if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      }
      await emu?.stop();
    }, 60_000);

    async function leaderEndpoints(): Promise<any> {
      return emu.api.get(NS, KIND, LEADER);
    }

    async function streamingReplicas(leader: string, count: number): Promise<boolean> {
      const n = nodes.find((x) => x.name === leader)!;
      const cluster = await restJson(n, '/cluster').catch(() => null);
      const members: any[] = cluster?.members ?? [];
      return members.filter((m) => m.name !== leader && m.state === 'running' && m.lag !== 'unknown').length >= count;
    }

    it(`forms a 3-node cluster whose state lives in ${KIND} and Pod annotations`, async () => {
      const ep = await waitFor(async () => {
        const e = await leaderEndpoints();
        return e?.metadata?.annotations?.leader ? e : null;
      }, 90_000, `a Patroni leader in the ${SCOPE} Endpoints\n${nodes.map((n) => n.proc?.output().slice(-1500)).join('\n---\n')}`);
      const leader = ep.metadata.annotations.leader as string;
      await waitFor(() => streamingReplicas(leader, 2), 120_000, 'both Patroni replicas running');

      // The leader record Patroni writes (acquireTime/renewTime/ttl/transitions) and the primary's address.
      expect(ep.metadata.annotations).toMatchObject({ ttl: '20', transitions: '0' });
      expect(Date.parse(ep.metadata.annotations.renewTime)).toBeGreaterThan(Date.now() - 60_000);
      const leaderNode = nodes.find((n) => n.name === leader)!;
      if (useEndpoints) {
        // The leader's address goes into the subsets at its first renewal after acquiring.
        const fresh = await waitFor(async () => ((await leaderEndpoints())?.subsets?.length ? leaderEndpoints() : null), 20_000, 'leader subsets');
        expect(fresh.subsets[0].addresses[0]).toMatchObject({ ip: '127.0.0.1', targetRef: { kind: 'Pod', name: leader } });
        expect(fresh.subsets[0].ports).toEqual([{ name: 'postgresql', port: leaderNode.pgPort }]);
        // The headless <scope>-config Service keeps the config Endpoints alive.
        expect((await emu.api.get(NS, 'services', `${SCOPE}-config`)).spec.clusterIP).toBe('None');
      } else {
        expect(await emu.api.get(NS, 'endpoints', SCOPE)).toBeNull();
        expect(await emu.api.get(NS, 'services', `${SCOPE}-config`)).toBeNull();
      }
      // Dynamic config and the initialize key on <scope>-config.
      const cfg = await emu.api.get(NS, KIND, `${SCOPE}-config`);
      expect(JSON.parse(cfg.metadata.annotations.config)).toMatchObject({ ttl: 20, loop_wait: 2 });
      expect(cfg.metadata.annotations.initialize).toMatch(/^\d+$/);
      expect(cfg.metadata.labels).toEqual(LABELS);
      // Members: the status annotation and the role label on each Pod (3.0.2 still says master).
      const pods = await emu.api.list(NS, 'pods', 'application=patroni,cluster-name=' + SCOPE);
      const roles = Object.fromEntries(pods.map((p) => [p.metadata.name, p.metadata.labels.role]));
      expect(roles[leader]).toBe('master');
      expect(Object.values(roles).filter((r) => r === 'replica')).toHaveLength(2);
      for (const p of pods) expect(JSON.parse(p.metadata.annotations.status).conn_url).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/postgres$/);
      // Every write was conditional or a create: the audit shows the verbs the real client uses.
      const verbs = new Set((await emu.api.audit()).map((a) => `${a.verb} ${a.resource}`));
      for (const v of ['list pods', 'watch pods', `list ${KIND}`, `watch ${KIND}`, `patch ${KIND}`, `create ${KIND}`, 'patch pods']) {
        expect(verbs).toContain(v);
      }
    }, 240_000);

    it("pgha's plugin reads the cluster Patroni wrote: leader, members, config", async () => {
      const ep = await leaderEndpoints();
      const leader = ep.metadata.annotations.leader as string;
      process.env.KUBECONFIG = kubeconfig;
      delete process.env.KUBERNETES_SERVICE_HOST;
      const ctx = { name: 'ctl', scope: SCOPE, namespace: '/service', basePath: clusterBasePath('/service', SCOPE), ttl: 20, loopWait: 2, retryTimeout: 6, ctl: true };
      const dcs = new Dcs(createKubernetesDriver(ctx, { namespace: NS, labels: { application: 'patroni' }, use_endpoints: useEndpoints }), { ttl: 20, loopWait: 2, retryTimeout: 6 });
      try {
        const c = await dcs.getCluster();
        expect(c.leaderName).toBe(leader);
        expect(c.members.map((m) => m.name).sort()).toEqual(nodes.map((n) => n.name).sort());
        expect(c.leader!.connKwargs()).toMatchObject({ host: '127.0.0.1', port: nodes.find((n) => n.name === leader)!.pgPort });
        expect(c.config!.data).toMatchObject({ ttl: 20, loop_wait: 2, retry_timeout: 6 });
        expect(c.initialize).toMatch(/^\d+$/);
        // Patroni publishes the leader's position with its next lock refresh: wait for it.
        const lsn = await waitFor(async () => ((await dcs.getCluster()).lastLsn ?? 0) || null, 30_000, "the leader's position in the DCS");
        expect(lsn).toBeGreaterThan(0);
      } finally {
        await dcs.close();
      }
    }, 60_000);

    it('fails over when the leader agent and its postgres are killed', async () => {
      const before = await leaderEndpoints();
      const oldLeader = before.metadata.annotations.leader as string;
      const victim = nodes.find((n) => n.name === oldLeader)!;
      const pm = postmasterPid(victim);
      process.kill(victim.proc!.pid, 'SIGKILL');
      if (pm && isAlive(pm)) process.kill(pm, 'SIGKILL');
      await victim.proc!.exited;
      const t0 = Date.now();
      const ep = await waitFor(async () => {
        const e = await leaderEndpoints();
        const l = e?.metadata?.annotations?.leader;
        return l && l !== oldLeader ? e : null;
      }, 90_000, 'a new Patroni leader after the old one was killed');
      // Not before the old record expired: ttl (20 s) judged from when the survivors last saw it change.
      expect(Date.now() - t0).toBeGreaterThan(8_000);
      const newLeader = ep.metadata.annotations.leader as string;
      expect(Number(ep.metadata.annotations.transitions)).toBe(1);
      const node = nodes.find((n) => n.name === newLeader)!;
      await waitFor(async () => (await restJson(node, '/patroni').catch(() => null))?.role === 'master', 60_000, 'the new leader runs as primary');
      const pod = await emu.api.get(NS, 'pods', newLeader);
      expect(pod.metadata.labels.role).toBe('master');
      await waitFor(async () => {
        const members: any[] = (await restJson(node, '/cluster').catch(() => null))?.members ?? [];
        return members.some((m) => m.name !== newLeader && m.name !== oldLeader && m.state === 'running' && m.timeline === 2);
      }, 90_000, 'the surviving replica follows the new leader on timeline 2');
      if (useEndpoints) {
        // The Service without selector now routes to the new primary.
        await waitFor(async () => (await leaderEndpoints())?.subsets?.[0]?.ports?.[0]?.port === node.pgPort, 20_000, 'leader subsets point at the new primary');
      }
    }, 240_000);
  });
}
