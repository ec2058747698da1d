/**
 * End-to-end test clusters: N pgha agents (real `pgha run` processes, as the unprivileged test user)
 * with real PostgreSQL 15 on a real DCS. Everything is started on 127.0.0.1 ports from this worker's
 * range and stopped by PID: agents, then any postmaster they left, then the DCS.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { startEtcd, type EtcdCluster } from './etcd.js';
import { startConsulEmulator, type EmulatorProcess } from '../consul/emulator/process.js';
import { startZookeeper, type ZkEnsemble } from './zookeeper.js';
import { freePort, freePorts } from './ports.js';
import { isAlive, startProc, waitFor, type Proc, postmasterPidOf } from './procs.js';
import { testUser, userTempDir } from './user.js';
import { startEmulator, writeKubeconfig, type RunningEmulator } from '../kubernetes/harness.js';
import { launchOf } from '../../cli/src/node-flags.js';
import { diagnose } from './diagnose.js';

/** The Kubernetes DCS: the API emulator (started here unless given), Pods created per node as a StatefulSet would. */
export interface KubernetesDcsOptions {
  kind: 'kubernetes';
  useEndpoints?: boolean;
  emulator?: RunningEmulator;
  /** The agents' bearer token (e.g. one the emulator restricts with RBAC); default: the emulator's admin token. */
  agentToken?: string;
  namespace?: string;
}

export const BIN_DIR = process.env.PGHA_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
export const CLI = resolve(import.meta.dirname, '../../cli/bin/pgha.js');
export const SUPERUSER = { username: 'postgres', password: 'su-secret' };

export function requirePostgresBinaries(): void {
  for (const t of ['postgres', 'initdb', 'pg_ctl', 'pg_controldata', 'pg_basebackup', 'pg_rewind']) {
    if (!existsSync(join(BIN_DIR, t))) throw new Error(`${join(BIN_DIR, t)} is missing: apt-get install postgresql-15 (or run scripts/install-deps.sh)`);
  }
}

export interface NodeSpec {
  readonly tags?: Record<string, unknown>;
}

export interface ClusterOptions {
  readonly nodes?: number | readonly NodeSpec[];
  /** etcd3 (default; a fresh etcd unless one is given) or the embedded Raft DCS (a member in every agent). */
  readonly dcs?: { kind: 'etcd3'; etcd?: EtcdCluster } | { kind: 'raft'; password?: string } | KubernetesDcsOptions
    /** The Consul emulator (test/consul/emulator; no real Consul server exists here): a fresh one unless given. */
    | { kind: 'consul'; consul?: EmulatorProcess; section?: Record<string, unknown> }
    /** ZooKeeper: a fresh standalone server unless an ensemble is given. */
    | { kind: 'zookeeper'; zookeeper?: ZkEnsemble };
  /** Dynamic configuration seeded into bootstrap.dcs (ttl, loop_wait, ...). */
  readonly dynamic?: Record<string, unknown>;
  /** Extra top-level local configuration for every node. */
  readonly local?: (name: string) => Record<string, unknown>;
  /** restapi.authentication for every node (write endpoints then need Basic auth). */
  readonly restapiAuth?: { username: string; password: string };
  /** Extra keys for every node's local `postgresql` section (callbacks, ...). */
  readonly postgresql?: Record<string, unknown>;
  /** Called with each node's directory (the agent's working directory) before the agent starts. */
  readonly prepare?: (dir: string, name: string) => void;
  /** Serve the REST API over TLS with this certificate (the test client does not verify it). */
  readonly restapiTls?: { certfile: string; keyfile: string };
  /** The pgha command the agents run (default: this workspace's cli/bin/pgha.js), e.g. one installed from tarballs. */
  readonly cli?: string;
  /** Which nodes start at once (default: all); the others wait for TestNode.start(). */
  readonly autostart?: (name: string) => boolean;
  /** Extra keys for one node's local `postgresql` section (after `postgresql`). */
  readonly postgresqlFor?: (name: string) => Record<string, unknown>;
  /** One node's `etcd3.hosts` (etcd3 clusters; default: every member's client URL), e.g. its own proxies. */
  readonly etcdHostsFor?: (name: string) => string;
  /** One node's address (default 127.0.0.1), e.g. in its own network namespace (helpers/netns.ts). */
  readonly hostFor?: (name: string) => string;
  /** A command prefix the node's agent runs under as root (`ip netns exec NS`); it then drops to the test user. */
  readonly wrapFor?: (name: string) => string[];
  /** Where other members connect from when nodes are not all on 127.0.0.1 (pg_hba). */
  readonly peerNet?: string;
}

export class TestNode {
  proc: Proc | null = null;
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly pgPort: number,
    readonly apiPort: number,
    readonly configPath: string,
    /** The Raft member's port when the cluster runs on the raft DCS. */
    readonly raftPort: number | null = null,
    /** Extra environment for the agent (KUBECONFIG on the kubernetes DCS). */
    readonly env: Record<string, string> = {},
    readonly scheme: 'http' | 'https' = 'http',
    readonly cli: string = CLI,
    readonly host: string = '127.0.0.1',
    readonly wrap: readonly string[] = [],
  ) {}

  get raftAddr(): string | null { return this.raftPort === null ? null : `${this.host}:${this.raftPort}`; }

  get dataDir(): string { return join(this.dir, 'data'); }
  get apiUrl(): string { return `${this.scheme}://${this.host}:${this.apiPort}`; }
  get logFile(): string { return join(this.dir, 'agent.log'); }

  /** Start `pgha run` for this node. */
  start(): void {
    const u = testUser();
    const launch = launchOf(this.cli);
    const env = { ...process.env, ...launch.env, ...(u ? { HOME: '/tmp', USER: process.env.PGHA_TEST_USER ?? 'pgha' } : {}), ...this.env };
    // PGHA_TEST_NODE_ARGS: Node flags for the agents (profiling a benchmark: `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    const nodeArgs = process.env.PGHA_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const argv = [process.execPath, ...launch.flags, ...nodeArgs, this.cli, 'run', this.configPath];
    if (!this.wrap.length) {
      this.proc = startProc(argv[0]!, argv.slice(1), { asUser: true, logFile: this.logFile, cwd: this.dir, env });
      return;
    }
    // The wrapper needs root; the agent itself runs as the test user (setpriv execs, so the PID is the agent's).
    const drop = u ? ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', '--'] : [];
    this.proc = startProc(this.wrap[0]!, [...this.wrap.slice(1), ...drop, ...argv], { logFile: this.logFile, cwd: this.dir, env });
  }

  agentAlive(): boolean { return !!this.proc && isAlive(this.proc.pid); }

  /** The postmaster PID from postmaster.pid, if that process is alive. */
  postmasterPid(): number | null { return postmasterPidOf(this.dataDir); }

  signalAgent(sig: NodeJS.Signals): void { if (this.proc) process.kill(this.proc.pid, sig); }

  async stopAgent(): Promise<void> {
    await this.proc?.stop(30_000);
    this.proc = null;
  }

  async get(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
    const { status, text } = this.scheme === 'https' ? await this.tlsRequest(path, init) : await (async () => {
      const res = await fetch(this.apiUrl + path, { ...init, signal: AbortSignal.timeout(5000) });
      return { status: res.status, text: await res.text() };
    })();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* plain text */ }
    return { status, body };
  }

  /** A request to a TLS REST API with a test certificate (not verified), 5 s timeout. */
  private tlsRequest(path: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const body = typeof init.body === 'string' ? init.body : null;
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
      const req = https.request(this.apiUrl + path, {
        method: init.method ?? 'GET', headers, rejectUnauthorized: false, timeout: 5000,
      }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${this.apiUrl}${path}: timeout`)));
      req.on('error', reject);
      if (body !== null) req.write(body);
      req.end();
    });
  }

  async sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> {
    const c = new pg.Client({ host: this.host, port: this.pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: 'postgres', connectionTimeoutMillis: 3000 });
    // A server shut down between the answer and end() (a restart the test caused) sends a FATAL
    // that arrives as an 'error' event: with no listener it would be an uncaught exception.
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(text, values)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  log(): string {
    try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }
}

/** Stop the fence the agent started for `dataDir` (detached, so it outlives the agent), by PID. */
export async function stopFence(dataDir: string): Promise<void> {
  const { FenceClient, fenceFiles, silentLogger } = await import('@pgha/core');
  const f = fenceFiles(dataDir, testUser()?.uid);
  const c = new FenceClient(dataDir, silentLogger, f.base, f.log);
  const st = await Promise.race([c.existing(), new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
  c.close();
  if (st && isAlive(st.pid)) {
    try { process.kill(st.pid, 'SIGTERM'); } catch { /* gone */ }
    await waitFor(() => !isAlive(st.pid), 5000, `fence ${st.pid} to exit`).catch(() => { try { process.kill(st.pid, 'SIGKILL'); } catch { /* gone */ } });
  }
}

export class TestCluster {
  private constructor(readonly scope: string, readonly root: string, private readonly etcdCluster: EtcdCluster | null, readonly nodes: TestNode[], private readonly ownEtcd: boolean,
    private readonly zkEnsemble: ZkEnsemble | null = null, private readonly ownZk = false) {}

  /** The ZooKeeper ensemble (zookeeper clusters only). */
  get zookeeper(): ZkEnsemble {
    if (!this.zkEnsemble) throw new Error('this test cluster does not run on ZooKeeper');
    return this.zkEnsemble;
  }

  /** The Consul emulator (consul clusters only), and whether this cluster started it. */
  private consulServer: EmulatorProcess | null = null;
  private ownConsul = false;

  get consul(): EmulatorProcess {
    if (!this.consulServer) throw new Error('this test cluster does not run on consul');
    return this.consulServer;
  }

  /** The Kubernetes API emulator and namespace (kubernetes clusters only). */
  k8s: { emulator: RunningEmulator; namespace: string; labels: Record<string, string>; kubeconfig: string; own: boolean } | null = null;

  /** The etcd cluster (etcd3 clusters only). */
  get etcd(): EtcdCluster {
    if (!this.etcdCluster) throw new Error('this test cluster runs on the raft DCS, not etcd');
    return this.etcdCluster;
  }

  static async start(o: ClusterOptions = {}): Promise<TestCluster> {
    requirePostgresBinaries();
    testUser();
    const specs: NodeSpec[] = typeof o.nodes === 'number' || o.nodes === undefined ? Array.from({ length: (o.nodes as number | undefined) ?? 3 }, () => ({})) : [...o.nodes];
    const raft = o.dcs?.kind === 'raft' ? o.dcs : null;
    const consulDcs = o.dcs?.kind === 'consul' ? o.dcs : null;
    const consul = consulDcs ? consulDcs.consul ?? (await startConsulEmulator()) : null;
    const kube = o.dcs?.kind === 'kubernetes' ? o.dcs : null;
    const zkOpt = o.dcs?.kind === 'zookeeper' ? o.dcs : null;
    const zookeeper = zkOpt ? zkOpt.zookeeper ?? (await startZookeeper()) : null;
    const etcd = raft || consul || kube || zookeeper ? null : (o.dcs?.kind === 'etcd3' ? o.dcs.etcd : undefined) ?? (await startEtcd());
    const raftPorts = raft ? await freePorts(specs.length) : [];
    const hostOf = (i: number) => o.hostFor?.(`node${i + 1}`) ?? '127.0.0.1';
    const raftAddrs = raftPorts.map((p, i) => `${hostOf(i)}:${p}`);
    const root = userTempDir('e2e');
    const scope = `e2e${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    const nodes: TestNode[] = [];
    let k8s: TestCluster['k8s'] = null;
    if (kube) {
      const emulator = kube.emulator ?? (await startEmulator());
      const namespace = kube.namespace ?? scope;
      const labels = { application: 'pgha' };
      k8s = { emulator, namespace, labels, kubeconfig: writeKubeconfig(root, emulator.url, kube.agentToken ?? emulator.token), own: !kube.emulator };
      for (let i = 0; i < specs.length; i++) await emulator.api.createPod(namespace, `node${i + 1}`, { ...labels, 'cluster-name': scope });
    }
    for (let i = 0; i < specs.length; i++) {
      const name = `node${i + 1}`;
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      o.prepare?.(dir, name);
      const [pgPort, apiPort] = [await freePort(), await freePort()];
      const host = hostOf(i);
      const peers = o.peerNet ? [`host replication replicator ${o.peerNet} md5`, `host all all ${o.peerNet} md5`] : [];
      const config = {
        scope, name, namespace: '/service',
        log: { type: 'plain', level: 'INFO' },
        restapi: { listen: `${host}:${apiPort}`, connect_address: `${host}:${apiPort}`, ...(o.restapiAuth ? { authentication: o.restapiAuth } : {}), ...(o.restapiTls ?? {}) },
        ...(etcd ? { etcd3: { hosts: o.etcdHostsFor?.(name) ?? etcd.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',') } } : {}),
        ...(consul ? { consul: { host: consul.hostPort, ...consulDcs!.section } } : {}),
        ...(kube ? { kubernetes: { namespace: k8s!.namespace, labels: k8s!.labels, use_endpoints: !!kube.useEndpoints, pod_ip: '127.0.0.1', ports: [{ name: 'postgresql', port: pgPort }] } } : {}),
        ...(zookeeper ? { zookeeper: { hosts: [...zookeeper.hosts] } } : {}),
        ...(raft ? { raft: { self_addr: raftAddrs[i], partner_addrs: raftAddrs.filter((_, j) => j !== i), data_dir: join(dir, 'raft'), ...(raft.password ? { password: raft.password } : {}) } } : {}),
        bootstrap: {
          dcs: {
            ttl: 20, loop_wait: 1, retry_timeout: 5, maximum_lag_on_failover: 1048576,
            postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10 } },
            ...o.dynamic,
          },
          initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
        },
        postgresql: {
          listen: `${host}:${pgPort}`, connect_address: `${host}:${pgPort}`, data_dir: join(dir, 'data'), bin_dir: BIN_DIR,
          pgpass: join(dir, 'pgpass'),
          authentication: { superuser: SUPERUSER, replication: { username: 'replicator', password: 'rep-secret' }, rewind: { username: 'rewinder', password: 'rewind-secret' } },
          parameters: { unix_socket_directories: dir, logging_collector: 'off' },
          pg_hba: ['local all all trust', 'host replication replicator 127.0.0.1/32 md5', 'host all all 127.0.0.1/32 md5', ...peers],
          ...o.postgresql,
          ...o.postgresqlFor?.(name),
        },
        tags: specs[i]!.tags ?? {},
        ...o.local?.(name),
      };
      const configPath = join(dir, 'pgha.yml');
      writeFileSync(configPath, stringify(config));
      const u = testUser();
      if (u) for (const p of [dir, configPath]) (await import('node:fs')).chownSync(p, u.uid, u.gid);
      nodes.push(new TestNode(name, dir, pgPort, apiPort, configPath, raft ? raftPorts[i]! : null, k8s ? { KUBECONFIG: k8s.kubeconfig } : {}, o.restapiTls ? 'https' : 'http', o.cli ?? CLI, host, o.wrapFor?.(name) ?? []));
    }
    const cluster = new TestCluster(scope, root, etcd, nodes, !!etcd && !(o.dcs?.kind === 'etcd3' && o.dcs.etcd),
      zookeeper, !!zookeeper && !zkOpt?.zookeeper);
    cluster.consulServer = consul;
    cluster.ownConsul = !!consul && !consulDcs!.consul;
    cluster.k8s = k8s;
    for (const n of nodes) if (o.autostart?.(n.name) ?? true) n.start();
    return cluster;
  }

  node(name: string): TestNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** The member holding the leader lock according to GET /cluster of any live agent. */
  async leaderName(): Promise<string | null> {
    for (const n of this.nodes) {
      if (!n.agentAlive()) continue;
      try {
        const { body } = await n.get('/cluster');
        const leader = (body.members as Array<{ name: string; role: string }>).find((m) => m.role === 'leader');
        return leader?.name ?? null;
      } catch { /* try the next one */ }
    }
    return null;
  }

  /**
   * Wait until `GET /cluster` on `via` shows member `name` within `maxLag` bytes of the leader: a
   * switchover to a replica further behind is refused with 412, as Patroni refuses it (the test
   * clusters' maximum_lag_on_failover is 1 MB; a fresh cluster's first checkpoints can exceed it).
   */
  async waitCaughtUp(via: TestNode, name: string, maxLag = 1_048_576, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      const members = (await via.get('/cluster').catch(() => ({ body: {} }))).body?.members as Array<{ name: string; lag?: unknown }> | undefined;
      const lag = members?.find((m) => m.name === name)?.lag;
      return typeof lag === 'number' && lag < maxLag ? true : null;
    }, timeoutMs, `${name} within ${maxLag} bytes of the leader`);
  }

  /** Wait for one leader whose /primary is 200 and `replicas` streaming replicas; returns the leader. */
  async waitHealthy(replicas: number, timeoutMs = 90_000): Promise<TestNode> {
    return waitFor(async () => {
      const name = await this.leaderName();
      if (!name) return null;
      const leader = this.node(name);
      if ((await leader.get('/primary')).status !== 200) return null;
      // Members only (as the DCS lists them, joiners included): a pg_basebackup in progress or a
      // backup tool's WAL receiver streams too, but is no replica.
      const members = ((await leader.get('/cluster')).body.members as Array<{ name: string }>).map((m) => m.name);
      const rows = await leader.sql<{ state: string }>("SELECT state FROM pg_stat_replication WHERE state = 'streaming' AND application_name = ANY($1)", [members]);
      return rows.length >= replicas ? leader : null;
    }, timeoutMs, `a leader with ${replicas} streaming replicas (logs: ${this.root})`, 250).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await this.diagnose()}`);
    });
  }

  /**
   * Nodes whose PostgreSQL accepts writes right now (pg_is_in_recovery() = false). A node that
   * refuses the connection, or answers that it is starting or stopping, is not writable; one whose
   * connection timed out (a loaded CI machine) is asked again, so a slow answer is not mistaken
   * for "not a primary".
   */
  async writablePrimaries(): Promise<string[]> {
    const out: string[] = [];
    await Promise.all(this.nodes.map(async (n) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const rows = await n.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
          if (rows[0]?.r === false) out.push(n.name);
          return;
        } catch (e) {
          if (attempt >= 3 || !/timeout/i.test((e as Error).message)) return;
        }
      }
    }));
    return out.sort();
  }

  /** Assert which nodes accept writes; on a mismatch the error carries every node's state and log tails. */
  async expectWritablePrimaries(expected: readonly string[]): Promise<void> {
    const got = await this.writablePrimaries();
    const want = [...expected].sort();
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    throw new Error(`writable primaries: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}\n${await this.diagnose()}`);
  }

  /** Every node's state and the tails of its agent's and PostgreSQL's logs. */
  diagnose(): Promise<string> {
    return diagnose(this.nodes, (n) => join(n.dataDir, 'pgha.postmaster.log'));
  }

  /** Stop every agent, then any postmaster still alive (by PID), the DCS if we started it, and remove files. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stopAgent().catch(() => undefined)));
    // Fences first: an armed fence may hold a frozen postmaster, which ignores SIGQUIT.
    await Promise.all(this.nodes.map((n) => stopFence(n.dataDir)));
    for (const n of this.nodes) {
      const pid = n.postmasterPid();
      if (pid) {
        try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
        await waitFor(() => !isAlive(pid), 10_000, `postmaster ${pid} to exit`).catch(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
      }
    }
    if (this.ownEtcd) await this.etcdCluster?.stop();
    if (this.ownConsul) await this.consulServer?.stop();
    if (this.k8s?.own) await this.k8s.emulator.stop();
    if (this.ownZk) await this.zkEnsemble?.stop();
    if (!process.env.PGHA_KEEP_TEST_DIRS) rmSync(this.root, { recursive: true, force: true });
  }
}
