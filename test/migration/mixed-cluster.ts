/**
 * Mixed clusters for the migration tests: every node has ONE YAML file that both Debian's real
 * Patroni 3.0.2 (`/usr/bin/patroni`) and `pgha run` read, on one etcd3 and one scope, so a node is
 * switched from Patroni to pgha (and back) exactly as docs/migrating-from-patroni.md tells operators:
 * stop one program, start the other on the same file and data directory. Processes run as the
 * unprivileged test user and are stopped by PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { stringify } from 'yaml';
import { BIN_DIR, CLI, SUPERUSER, requirePostgresBinaries, stopFence } from '../helpers/cluster.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, startProc, waitFor, type Proc, postmasterPidOf } from '../helpers/procs.js';
import { runAsOptions, testUser, userTempDir } from '../helpers/user.js';
import { runCtl, type CtlResult } from '../ctl/run-ctl.js';

export const PATRONI = '/usr/bin/patroni';
export const PATRONICTL = '/usr/bin/patronictl';
export type Kind = 'patroni' | 'pgha';

export function requirePatroni(): void {
  for (const f of [PATRONI, PATRONICTL]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: apt-get install patroni (or run scripts/install-deps.sh)`);
  }
}

function childrenOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).map(Number);
}

export class MixedNode {
  proc: Proc | null = null;
  kind: Kind | null = null;
  constructor(readonly name: string, readonly dir: string, readonly configPath: string, readonly apiPort: number, readonly pgPort: number) {}

  get dataDir(): string { return join(this.dir, 'data'); }
  get logFile(): string { return join(this.dir, 'agent.log'); }

  /** Start Patroni or pgha on this node's YAML (one log file for both, with a marker line between runs). */
  start(kind: Kind): void {
    if (this.agentAlive()) throw new Error(`${this.name}: ${this.kind} still runs`);
    writeFileSync(this.logFile, `----- ${new Date().toISOString()} starting ${kind}\n`, { flag: 'a' });
    this.kind = kind;
    this.proc = kind === 'patroni'
      ? startProc(PATRONI, [this.configPath], { asUser: true, cwd: this.dir, logFile: this.logFile })
      : startProc(process.execPath, [CLI, 'run', this.configPath], { asUser: true, cwd: this.dir, logFile: this.logFile });
  }

  agentAlive(): boolean { return !!this.proc && isAlive(this.proc.pid); }

  /** A clean stop (SIGTERM): the agent stops PostgreSQL, as `systemctl stop` does. */
  async stop(): Promise<void> {
    await this.proc?.stop(60_000);
    this.proc = null;
    if (this.kind === 'pgha') await stopFence(this.dataDir);
  }

  /** A node crash: agent, fence and postmaster killed at once (SIGKILL), nothing released. */
  async crash(): Promise<void> {
    const pm = this.postmasterPid();
    const children = pm ? childrenOf(pm) : [];
    if (this.proc) process.kill(this.proc.pid, 'SIGKILL');
    if (pm) process.kill(pm, 'SIGKILL');
    await this.proc?.exited;
    this.proc = null;
    if (this.kind === 'pgha') await stopFence(this.dataDir);
    if (pm) await waitFor(() => !isAlive(pm), 10_000, `${this.name}: postmaster ${pm} gone`);
    // Orphaned backends notice the postmaster's death within a moment; a restart needs them gone.
    await waitFor(() => !children.some(isAlive), 20_000, `${this.name}: backends of the killed postmaster gone`);
  }

  postmasterPid(): number | null { return postmasterPidOf(this.dataDir); }

  async api(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    try { return { status: res.status, body: JSON.parse(text) }; } catch { return { status: res.status, body: text }; }
  }

  async sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port: this.pgPort, ...SUPERUSER, user: SUPERUSER.username, database: 'postgres', connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    await c.connect();
    try { return (await c.query(text, values)).rows as T[]; } finally { await c.end().catch(() => undefined); }
  }

  log(): string {
    try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }
}

/** The YAML both programs read: Patroni's keys only (pgha reads the same file unchanged). */
export function nodeConfig(o: {
  scope: string; name: string; dir: string; apiPort: number; pgPort: number; etcdHosts: string;
  /** Extra bootstrap.dcs keys (e.g. synchronous_mode); local tags. */
  dynamic?: Record<string, unknown>; tags?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    scope: o.scope, name: o.name, namespace: '/service',
    log: { level: 'INFO' },
    restapi: { listen: `127.0.0.1:${o.apiPort}`, connect_address: `127.0.0.1:${o.apiPort}` },
    etcd3: { hosts: o.etcdHosts },
    bootstrap: {
      dcs: {
        ttl: 20, loop_wait: 2, retry_timeout: 5, maximum_lag_on_failover: 16777216, ...o.dynamic,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: '128MB' } },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${o.pgPort}`, connect_address: `127.0.0.1:${o.pgPort}`, data_dir: join(o.dir, 'data'), bin_dir: BIN_DIR,
      pgpass: join(o.dir, 'pgpass'),
      authentication: { superuser: SUPERUSER, replication: { username: 'replicator', password: 'rep-secret' }, rewind: { username: 'rewinder', password: 'rewind-secret' } },
      parameters: { unix_socket_directories: o.dir, logging_collector: 'off' },
      pg_hba: ['local all all trust', 'host replication replicator 127.0.0.1/32 md5', 'host all all 127.0.0.1/32 md5'],
    },
    tags: { ...o.tags },
  };
}

export interface ListRow { Member: string; Role: string; State: string; TL?: number; [k: string]: unknown }

export class MixedCluster {
  private constructor(readonly scope: string, readonly root: string, readonly etcd: EtcdCluster, readonly nodes: MixedNode[]) {}

  /** Nodes `kinds[i]`, started in order: the first one alone until it leads, so it bootstraps the cluster. */
  static async start(kinds: readonly Kind[], opts: { dynamic?: Record<string, unknown>; tags?: Record<string, Record<string, unknown>> } = {}): Promise<MixedCluster> {
    requirePatroni();
    requirePostgresBinaries();
    testUser();
    const etcd = await startEtcd();
    const root = userTempDir('mixed');
    const scope = `mix${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    const etcdHosts = etcd.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',');
    const nodes: MixedNode[] = [];
    for (let i = 0; i < kinds.length; i++) {
      const name = `node${i + 1}`;
      const dir = join(root, name);
      mkdirSync(dir);
      const [apiPort, pgPort] = [await freePort(), await freePort()];
      const configPath = join(dir, 'node.yml');
      writeFileSync(configPath, stringify(nodeConfig({ scope, name, dir, apiPort, pgPort, etcdHosts, dynamic: opts.dynamic, tags: opts.tags?.[name] })));
      const u = testUser();
      if (u) for (const p of [dir, configPath]) chownSync(p, u.uid, u.gid);
      nodes.push(new MixedNode(name, dir, configPath, apiPort, pgPort));
    }
    const c = new MixedCluster(scope, root, etcd, nodes);
    nodes[0]!.start(kinds[0]!);
    await c.waitLeader(nodes[0]!.name, 120_000);
    for (let i = 1; i < nodes.length; i++) nodes[i]!.start(kinds[i]!);
    return c;
  }

  node(name: string): MixedNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** `patronictl -c <node's YAML> ...` as the test user (asynchronous: a steady writer in this process keeps writing meanwhile). */
  patronictl(args: string[], node: MixedNode = this.nodes[0]!, input = ''): Promise<CtlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(PATRONICTL, ['-c', node.configPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...runAsOptions() });
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`patronictl ${args.join(' ')}: no result in 90 s\n${stdout}${stderr}`)); }, 90_000);
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      child.stdin.end(input);
    });
  }

  /** `pgha -c <node's YAML> ...`. */
  pgha(args: string[], node: MixedNode = this.nodes[0]!, input = ''): Promise<CtlResult> {
    return runCtl(['-c', node.configPath, ...args], { input, timeoutMs: 90_000 });
  }

  /** A key's raw value under this cluster's prefix (`status`, `sync`, `members/node1`...), read from etcd. */
  async dcsValue(key: string): Promise<string | null> {
    const client = new Etcd3({ hosts: [...this.etcd.endpoints] });
    try { return await client.get(`/service/${this.scope}/${key}`).string(); } finally { client.close(); }
  }

  /** Rows of `list -f json` by patronictl 3.0.2 or pgha. */
  async list(tool: 'patronictl' | 'pgha', node?: MixedNode): Promise<ListRow[]> {
    const r = tool === 'patronictl' ? await this.patronictl(['list', '-f', 'json'], node) : await this.pgha(['list', '-f', 'json'], node);
    if (r.code !== 0) throw new Error(`${tool} list failed (${r.code}): ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as ListRow[];
  }

  /**
   * The [Member, Role, State] rows `tool` lists for a healthy cluster led by `leader` with these
   * members: a streaming replica shows `streaming` only when its member value carries
   * `replication_state` (pgha, Patroni >= 3.0.3) and the tool reads it (pgha's list, patronictl >= 3.0.3);
   * Debian's Patroni 3.0.2 neither writes nor reads it, so there it is `running`.
   */
  healthyRows(tool: 'patronictl' | 'pgha', leader: string, members: string[] = this.nodes.map((n) => n.name)): Array<[string, string, string]> {
    return [...members].sort().map((m) => {
      if (m === leader) return [m, 'Leader', 'running'];
      return [m, 'Replica', tool === 'pgha' && this.node(m).kind === 'pgha' ? 'streaming' : 'running'];
    });
  }

  /** Poll `list -f json` of `tool` until [Member, Role, State] of every row is `want`; the rows. */
  async waitListed(tool: 'patronictl' | 'pgha', want: Array<[string, string, string]>, timeoutMs = 60_000, node?: MixedNode): Promise<ListRow[]> {
    let last: ListRow[] = [];
    try {
      return await waitFor(async () => {
        last = await this.list(tool, node);
        return JSON.stringify(last.map((r) => [r.Member, r.Role, r.State])) === JSON.stringify(want) ? last : null;
      }, timeoutMs, `${tool} list`, 500);
    } catch (e) {
      throw new Error(`${String(e)}; last rows: ${JSON.stringify(last)}`);
    }
  }

  /** The leader per `patronictl list`, once it is `name` (or any leader when name is null) and writable. */
  async waitLeader(name: string | null, timeoutMs = 90_000): Promise<MixedNode> {
    return waitFor(async () => {
      const rows = await this.list('patronictl');
      const leader = rows.find((r) => r.Role === 'Leader' && r.State === 'running');
      if (!leader || (name && leader.Member !== name)) return null;
      const n = this.node(leader.Member);
      const ro = await n.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return ro[0]?.r === false ? n : null;
    }, timeoutMs, `leader ${name ?? '(any)'} writable (logs under ${this.root})`, 500);
  }

  /** Wait until every other node streams from the leader (pg_stat_replication by member name). */
  async waitStreaming(leader: MixedNode, timeoutMs = 120_000): Promise<void> {
    const want = this.nodes.filter((n) => n !== leader).map((n) => n.name).sort();
    await waitFor(async () => {
      const rows = await leader.sql<{ n: string }>("SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming'");
      const have = new Set(rows.map((r) => r.n));
      return want.every((w) => have.has(w));
    }, timeoutMs, `${want.join(', ')} streaming from ${leader.name} (logs under ${this.root})`, 500);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => undefined)));
    for (const n of this.nodes) {
      const pid = n.postmasterPid();
      if (!pid) continue;
      try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
      await waitFor(() => !isAlive(pid), 10_000, `postmaster ${pid}`).catch(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
    }
    await this.etcd.stop();
    if (!process.env.PGHA_KEEP_TEST_DIRS) rmSync(this.root, { recursive: true, force: true });
  }
}
