/**
 * Real ZooKeeper 3.8 servers (Debian's `zookeeper` package) for tests: one standalone server or a
 * 3-member ensemble on free loopback ports, each with a temporary data directory, started with
 * startProc (`java ... QuorumPeerMain zoo.cfg`) and stopped by PID.
 *
 * tickTime is 200 ms so sessions may be as short as 1 s (conformance expiry tests) and elections
 * finish quickly; the embedded admin server is off (it would bind 0.0.0.0:8080).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { freePort } from './ports.js';
import { startProc, waitFor, type Proc } from './procs.js';

const JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/zookeeper-jute.jar', '/usr/share/java/slf4j-api.jar'];
const SLF4J_BINDINGS = ['/usr/share/java/slf4j-simple.jar', '/usr/share/java/slf4j-nop.jar'];
const INSTALL = 'apt-get install zookeeper libslf4j-java default-jre-headless (or run scripts/install-deps.sh)';

export interface ZkMember {
  readonly id: number;
  readonly clientPort: number;
  readonly dataDir: string;
  proc: Proc | null;
}

export interface ZkEnsemble {
  readonly members: readonly ZkMember[];
  /** `127.0.0.1:port` of every member (dead ones included), for a DCS config's `hosts`. */
  readonly hosts: readonly string[];
  /** Send a four-letter command (srvr, ruok, mntr) to one member; resolves the answer. */
  fourLetter(index: number, cmd: string): Promise<string>;
  /** Index of the quorum leader (or the standalone server). */
  leaderIndex(): Promise<number>;
  /** SIGKILL one member (by PID) and wait until it is gone. */
  kill(index: number): Promise<void>;
  /** Freeze (SIGSTOP) or thaw (SIGCONT) one member by PID: a hung server, not a dead one. */
  freeze(index: number, frozen: boolean): Promise<void>;
  /** Wait until every live member serves requests (standalone, leader or follower). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** A raw client on the live members (caller closes it with closeClient). */
  rawClient(): Promise<Client>;
  stop(): Promise<void>;
}

export function javaBinary(): string {
  for (const p of [process.env.JAVA_BIN, '/usr/bin/java'].filter((p): p is string => !!p)) if (existsSync(p)) return p;
  throw new Error(`java not found: ${INSTALL}`);
}

function classpath(): string {
  const missing = JARS.filter((j) => !existsSync(j));
  const binding = SLF4J_BINDINGS.find((j) => existsSync(j));
  if (missing.length || !binding) throw new Error(`ZooKeeper jars missing (${[...missing, ...(binding ? [] : ['an slf4j binding'])].join(', ')}): ${INSTALL}`);
  return [...JARS, binding].join(':');
}

function dataRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export function fourLetter(port: number, cmd: string, timeoutMs = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(cmd));
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${cmd}: no answer from 127.0.0.1:${port}`)); }, timeoutMs);
    sock.on('data', (b) => { out += b.toString(); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

export function connectClient(hosts: string, timeoutMs = 10_000, sessionTimeout = 10_000): Promise<Client> {
  const client = zookeeper.createClient(hosts, { sessionTimeout, spinDelay: 100, retries: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { client.close(); reject(new Error(`no ZooKeeper connection to ${hosts}`)); }, timeoutMs);
    client.once('connected', () => { clearTimeout(timer); resolve(client); });
    client.connect();
  });
}

/** Promise wrappers for the raw client calls tests use. */
export const zk = {
  getData: (c: Client, path: string) => new Promise<{ data: string; ephemeralOwner: string; version: number } | null>((resolve, reject) => {
    c.getData(path, (e, data, stat) => {
      if (e && (e as { getCode?: () => number }).getCode?.() === zookeeper.Exception.NO_NODE) return resolve(null);
      if (e) return reject(e);
      resolve({ data: data ? data.toString() : '', ephemeralOwner: Buffer.from(stat.ephemeralOwner).toString('hex'), version: stat.version });
    });
  }),
  children: (c: Client, path: string) => new Promise<string[]>((resolve, reject) => {
    c.getChildren(path, (e, kids) => {
      if (e && (e as { getCode?: () => number }).getCode?.() === zookeeper.Exception.NO_NODE) return resolve([]);
      if (e) return reject(e);
      resolve(kids);
    });
  }),
  put: (c: Client, path: string, value: string) => new Promise<void>((resolve, reject) => {
    c.mkdirp(path, Buffer.from(value), (e) => {
      if (e && (e as { getCode?: () => number }).getCode?.() !== zookeeper.Exception.NODE_EXISTS) return reject(e);
      c.setData(path, Buffer.from(value), -1, (e2) => (e2 ? reject(e2) : resolve()));
    });
  }),
  remove: (c: Client, path: string) => new Promise<void>((resolve, reject) => {
    c.remove(path, -1, (e) => (e ? reject(e) : resolve()));
  }),
  close: (c: Client) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 1000);
    c.once('disconnected', () => { clearTimeout(t); resolve(); });
    c.close();
  }),
};

export interface ZookeeperOptions {
  readonly members?: 1 | 3;
  /** The session timeouts the servers grant, ms (default 1000..60000). */
  readonly sessionTimeoutMs?: { readonly min: number; readonly max: number };
}

export async function startZookeeper(opts: ZookeeperOptions = {}): Promise<ZkEnsemble> {
  const java = javaBinary();
  const cp = classpath();
  const n = opts.members ?? 1;
  const members: ZkMember[] = [];
  const quorumPorts: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    members.push({ id: i + 1, clientPort: await freePort(), dataDir: mkdtempSync(join(dataRoot(), `pgha-zk${i + 1}-`)), proc: null });
    quorumPorts.push(n > 1 ? [await freePort(), await freePort()] : [0, 0]);
  }
  for (const m of members) {
    const lines = [
      'tickTime=200', 'initLimit=25', 'syncLimit=10',
      `dataDir=${m.dataDir}`, `clientPort=${m.clientPort}`, 'clientPortAddress=127.0.0.1',
      'admin.enableServer=false', `minSessionTimeout=${opts.sessionTimeoutMs?.min ?? 1000}`, `maxSessionTimeout=${opts.sessionTimeoutMs?.max ?? 60_000}`,
      '4lw.commands.whitelist=srvr,ruok,mntr', 'autopurge.purgeInterval=0',
      // Quorum sockets on loopback only.
      'quorumListenOnAllIPs=false',
    ];
    if (n > 1) {
      members.forEach((o, j) => lines.push(`server.${o.id}=127.0.0.1:${quorumPorts[j]![0]}:${quorumPorts[j]![1]}`));
      writeFileSync(join(m.dataDir, 'myid'), `${m.id}\n`);
    }
    const cfg = join(m.dataDir, 'zoo.cfg');
    writeFileSync(cfg, lines.join('\n') + '\n');
    mkdirSync(join(m.dataDir, 'logs'), { recursive: true });
    m.proc = startProc(java, [
      '-Xmx160m', '-XX:+UseSerialGC', '-Xss512k',
      // No fsync of the transaction log per write: a killed member keeps what it wrote (the page cache
      // outlives the process), and on the loaded CI machine an fsync stall beyond syncLimit (2 s) drops
      // the one follower left after a member was killed, and with it the quorum (CI run 2026-11-30).
      '-Dzookeeper.forceSync=no',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', `-Dzookeeper.log.dir=${join(m.dataDir, 'logs')}`,
      '-cp', cp, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg,
    ]);
  }

  const alive = (m: ZkMember) => !!m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null;
  const mode = async (m: ZkMember): Promise<string | null> => {
    const out = await fourLetter(m.clientPort, 'srvr').catch(() => '');
    return /Mode: (\w+)/.exec(out)?.[1] ?? null;
  };
  const outputs = () => members.filter((m) => m.proc && !alive(m)).map((m) => `zk${m.id} exited: ${m.proc!.output().slice(-1500)}`).join('\n');

  const ensemble: ZkEnsemble = {
    members,
    hosts: members.map((m) => `127.0.0.1:${m.clientPort}`),
    fourLetter: (index, cmd) => fourLetter(members[index]!.clientPort, cmd),
    async leaderIndex() {
      for (const [i, m] of members.entries()) {
        if (!alive(m)) continue;
        const md = await mode(m);
        if (md === 'leader' || md === 'standalone') return i;
      }
      throw new Error('ZooKeeper has no leader');
    },
    async kill(index) {
      const p = members[index]!.proc;
      if (!p) return;
      p.child.kill('SIGKILL');
      await p.stop();
    },
    async freeze(index, frozen) {
      const p = members[index]!.proc;
      if (!p) return;
      process.kill(p.pid, frozen ? 'SIGSTOP' : 'SIGCONT');
      // Signals land asynchronously: wait until the kernel reports the process (not) stopped.
      const stopped = () => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${p.pid}/stat`, 'utf8'));
      await waitFor(() => stopped() === frozen, 5000, `zookeeper ${frozen ? 'stopped' : 'running'}`, 10);
    },
    async waitHealthy(timeoutMs = 60_000) {
      await waitFor(async () => {
        const modes = await Promise.all(members.filter(alive).map(mode));
        return modes.length > 0 && modes.every((md) => md === 'standalone' || md === 'leader' || md === 'follower') &&
          (n === 1 || modes.includes('leader'));
      }, timeoutMs, `ZooKeeper members serving (${ensemble.hosts.join(', ')})\n${outputs()}`, 200);
    },
    rawClient: () => connectClient(members.filter(alive).map((m) => `127.0.0.1:${m.clientPort}`).join(',')),
    async stop() {
      await Promise.all(members.map(async (m) => {
        try { if (m.proc) process.kill(m.proc.pid, 'SIGCONT'); } catch { /* gone */ }
        await m.proc?.stop();
        m.proc = null;
        rmSync(m.dataDir, { recursive: true, force: true });
      }));
    },
  };
  try {
    await ensemble.waitHealthy();
  } catch (e) {
    await ensemble.stop();
    throw e;
  }
  return ensemble;
}

/** The `zookeeper:` section a pgha or Patroni config uses for this ensemble. */
export function zookeeperSection(e: ZkEnsemble): { hosts: string[] } {
  return { hosts: [...e.hosts] };
}

