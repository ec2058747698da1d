/**
 * Real etcd servers for tests: one member or a 3-member cluster on free loopback ports, each with
 * a temporary data directory, started with startProc and stopped by PID. etcd runs fine as root,
 * so it does not drop to the test user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import { freePort } from './ports.js';
import { startProc, waitFor, type Proc } from './procs.js';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  /** Plain-HTTP /health and /metrics (the client URL when it is plain HTTP itself). */
  readonly metricsUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  proc: Proc | null;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member (dead ones included), for a DCS config's `hosts`. */
  readonly endpoints: readonly string[];
  /** SIGKILL one member (by PID) and wait until it is gone. */
  kill(index: number): Promise<void>;
  /** Start a killed member again on its data directory. */
  restart(index: number): Promise<void>;
  /** Index of the current raft leader among the live members. */
  leaderIndex(): Promise<number>;
  /** A counter or gauge from a member's /metrics, e.g. `etcd_debugging_lease_renewed_total`. */
  metric(index: number, name: string): Promise<number>;
  /** Number of open watch streams a member serves. */
  watchStreams(index: number): Promise<number>;
  /** Freeze (SIGSTOP) or thaw (SIGCONT) one member by PID: a hung etcd, not a dead one. */
  freeze(index: number, frozen: boolean): Promise<void>;
  /** Wait until every live member reports healthy (has a leader). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Create root + `username` (read/write on `prefix`) and turn authentication on. */
  enableAuth(username: string, password: string, prefix?: string): Promise<void>;
  /** Stop every member by PID and remove the data directories. */
  stop(): Promise<void>;
}

export function etcdBinary(): string {
  const candidates = [process.env.ETCD_BIN, '/usr/bin/etcd', '/usr/local/bin/etcd'].filter((p): p is string => !!p);
  for (const p of candidates) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v etcd']).toString().trim();
  } catch {
    throw new Error('etcd binary not found: apt-get install etcd-server (or run scripts/install-deps.sh)');
  }
}

/** tmpfs when there is one: etcd fsyncs every write and CI disks are slow. */
function dataRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

async function healthy(clientUrl: string): Promise<boolean> {
  const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
  const body = (await res.json()) as { health?: string };
  return body.health === 'true';
}

/** Serve clients over HTTPS with this certificate; with `ca`, require client certificates signed by it. */
export interface EtcdTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/** `host`: the address etcd listens on (default 127.0.0.1; the hub's address in helpers/netns.ts). */
export async function startEtcd(opts: { members?: 1 | 3; host?: string; tls?: EtcdTls } = {}): Promise<EtcdCluster> {
  const host = opts.host ?? '127.0.0.1';
  const bin = etcdBinary();
  const n = opts.members ?? 1;
  const token = `pgha-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < n; i++) {
    const [client, peer, metrics] = [await freePort(), await freePort(), opts.tls ? await freePort() : 0];
    const clientUrl = `${opts.tls ? 'https' : 'http'}://${host}:${client}`;
    members.push({
      name: `etcd${i}`, clientUrl, metricsUrl: opts.tls ? `http://${host}:${metrics}` : clientUrl, peerUrl: `http://${host}:${peer}`,
      dataDir: mkdtempSync(join(dataRoot(), `pgha-etcd${i}-`)), proc: null,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const launch = (m: EtcdMember) => startProc(bin, [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
    // Quick elections so a killed leader is replaced well within a test's retry_timeout.
    '--heartbeat-interval', '50', '--election-timeout', '500',
    '--logger', 'zap', '--log-level', 'warn',
    ...(opts.tls ? [
      '--cert-file', opts.tls.cert, '--key-file', opts.tls.key, '--listen-metrics-urls', m.metricsUrl,
      ...(opts.tls.ca ? ['--trusted-ca-file', opts.tls.ca, '--client-cert-auth'] : []),
    ] : []),
    // etcd 3.4 refuses to start on arm64 unless told it may.
  ], process.arch === 'arm64' ? { env: { ...process.env, ETCD_UNSUPPORTED_ARCH: 'arm64' } } : {});
  for (const m of members) m.proc = launch(m);

  const live = () => members.filter((m) => m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null);

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async kill(index) {
      const p = members[index]!.proc;
      if (!p) return;
      p.child.kill('SIGKILL');
      await p.stop();
      members[index]!.proc = null;
    },
    async restart(index) {
      const m = members[index]!;
      if (m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null) return;
      // Its data directory holds its membership: the initial-cluster flags are ignored now.
      m.proc = launch(m);
    },
    async leaderIndex() {
      const statuses = await Promise.all(live().map(async (m) => {
        const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
        const s = (await res.json()) as { header: { member_id: string }; leader?: string };
        return { index: members.indexOf(m), id: s.header.member_id, leader: s.leader };
      }));
      const leader = statuses.find((s) => statuses.some((o) => o.leader === s.id));
      if (!leader) throw new Error('etcd has no leader');
      return leader.index;
    },
    async metric(index, name) {
      const text = await (await fetch(`${members[index]!.metricsUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    },
    watchStreams(index) {
      return cluster.metric(index, 'etcd_debugging_mvcc_watch_stream_total');
    },
    async freeze(index, frozen) {
      const p = members[index]!.proc;
      if (!p) return;
      process.kill(p.pid, frozen ? 'SIGSTOP' : 'SIGCONT');
      // Signals land asynchronously: wait until the kernel reports the process (not) stopped.
      const stopped = () => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${p.pid}/stat`, 'utf8'));
      await waitFor(() => stopped() === frozen, 5000, `etcd ${frozen ? 'stopped' : 'running'}`, 10);
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor(async () => {
        for (const m of live()) if (!(await healthy(m.metricsUrl))) return false;
        return true;
      }, timeoutMs, `etcd members healthy (${live().map((m) => m.clientUrl).join(', ')})${outputs()}`, 100);
    },
    async enableAuth(username, password, prefix = '/service/') {
      const client = new Etcd3({ hosts: live().map((m) => m.clientUrl) });
      try {
        await client.role('root').create();
        await client.user('root').create(`${password}-root`);
        await client.user('root').addRole('root');
        const role = client.role(`${username}-rw`);
        await role.create();
        await role.grant({ permission: 'Readwrite', range: Range.prefix(prefix) });
        await client.user(username).create(password);
        await client.user(username).addRole(role);
        await client.auth.authEnable({});
      } finally {
        client.close();
      }
    },
    async stop() {
      await Promise.all(members.map(async (m) => {
        // A frozen member would sit on SIGTERM until the SIGKILL escalation.
        try { if (m.proc) process.kill(m.proc.pid, 'SIGCONT'); } catch { /* already gone */ }
        await m.proc?.stop();
        m.proc = null;
        rmSync(m.dataDir, { recursive: true, force: true });
      }));
    },
  };

  function outputs(): string {
    const dead = members.filter((m) => m.proc && m.proc.child.exitCode !== null);
    return dead.length ? `; exited: ${dead.map((m) => `${m.name}: ${m.proc!.output().slice(-1500)}`).join('\n')}` : '';
  }

  try {
    await cluster.waitHealthy();
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
