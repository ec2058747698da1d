/**
 * Debian's real Patroni 3.0.2 (an independent Consul client: python-consul over urllib3) as a
 * 3-node cluster with PostgreSQL 15, for validating the Consul emulator and for checking that
 * pgha's Consul layout is what Patroni's tools read.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { chownSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BIN_DIR, requirePostgresBinaries } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, startProc, waitFor, type Proc, postmasterPidOf } from '../helpers/procs.js';
import { runAsOptions, testUser, userTempDir } from '../helpers/user.js';

export const PATRONI = '/usr/bin/patroni';
export const PATRONICTL = '/usr/bin/patronictl';

export function requirePatroni(): void {
  for (const f of [PATRONI, PATRONICTL, '/usr/lib/python3/dist-packages/consul/base.py']) {
    if (!existsSync(f)) throw new Error(`${f} is missing: apt-get install patroni python3-consul (or run scripts/install-deps.sh)`);
  }
}

export class PatroniNode {
  proc: Proc | null = null;
  constructor(readonly name: string, readonly dir: string, readonly configPath: string, readonly apiPort: number, readonly pgPort: number) {}

  get dataDir(): string { return join(this.dir, 'data'); }

  start(): void {
    this.proc = startProc(PATRONI, [this.configPath], { asUser: true, cwd: this.dir, logFile: join(this.dir, 'patroni.log') });
  }

  postmasterPid(): number | null { return postmasterPidOf(this.dataDir); }

  async api(path: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    try { return { status: res.status, body: JSON.parse(text) }; } catch { return { status: res.status, body: text }; }
  }

  log(): string {
    try { return readFileSync(join(this.dir, 'patroni.log'), 'utf8'); } catch { return ''; }
  }
}

export interface PatroniClusterOptions {
  readonly consulHost: string;
  readonly token?: string;
  readonly registerService?: boolean;
}

export class PatroniCluster {
  private constructor(readonly scope: string, readonly root: string, readonly nodes: PatroniNode[]) {}

  static async start(o: PatroniClusterOptions, count = 3): Promise<PatroniCluster> {
    requirePatroni();
    requirePostgresBinaries();
    testUser();
    const root = userTempDir('patroni');
    const scope = `pat${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    const nodes: PatroniNode[] = [];
    for (let i = 1; i <= count; i++) {
      const name = `patroni${i}`;
      const dir = join(root, name);
      mkdirSync(dir);
      const [apiPort, pgPort] = [await freePort(), await freePort()];
      const configPath = join(dir, 'patroni.yml');
      writeFileSync(configPath, stringify(patroniConfig({ scope, name, dir, apiPort, pgPort, ...o })));
      const u = testUser();
      if (u) for (const p of [dir, configPath]) chownSync(p, u.uid, u.gid);
      nodes.push(new PatroniNode(name, dir, configPath, apiPort, pgPort));
    }
    for (const n of nodes) n.start();
    return new PatroniCluster(scope, root, nodes);
  }

  /** `patronictl -c <config> list -f json` as the test user; the parsed rows. */
  ctlList(configPath = this.nodes[0]!.configPath): Array<Record<string, unknown>> {
    return patronictlList(configPath);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.proc?.stop(30_000)));
    for (const n of this.nodes) {
      const pid = n.postmasterPid();
      if (!pid) continue;
      try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
      await waitFor(() => !isAlive(pid), 10_000, `postmaster ${pid}`).catch(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
    }
    if (!process.env.PGHA_KEEP_TEST_DIRS) rmSync(this.root, { recursive: true, force: true });
  }
}

export function patronictlList(configPath: string): Array<Record<string, unknown>> {
  const u = runAsOptions();
  const r = spawnSync(PATRONICTL, ['-c', configPath, 'list', '-f', 'json'], { encoding: 'utf8', timeout: 60_000, ...u });
  if (r.status !== 0) throw new Error(`patronictl list failed (${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

export function patroniConfig(o: { scope: string; name: string; dir: string; apiPort: number; pgPort: number; consulHost: string; token?: string; registerService?: boolean }): Record<string, unknown> {
  return {
    scope: o.scope, name: o.name, namespace: '/service',
    log: { level: 'INFO' },
    restapi: { listen: `127.0.0.1:${o.apiPort}`, connect_address: `127.0.0.1:${o.apiPort}` },
    consul: { host: o.consulHost, ...(o.token ? { token: o.token } : {}), register_service: !!o.registerService, service_check_interval: '1s' },
    bootstrap: {
      dcs: {
        ttl: 20, loop_wait: 2, retry_timeout: 5, maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10 } },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${o.pgPort}`, connect_address: `127.0.0.1:${o.pgPort}`, data_dir: join(o.dir, 'data'), bin_dir: BIN_DIR,
      pgpass: join(o.dir, 'pgpass'),
      authentication: { superuser: { username: 'postgres', password: 'su-secret' }, replication: { username: 'replicator', password: 'rep-secret' }, rewind: { username: 'rewinder', password: 'rewind-secret' } },
      parameters: { unix_socket_directories: o.dir, logging_collector: 'off' },
      pg_hba: ['local all all trust', 'host replication replicator 127.0.0.1/32 md5', 'host all all 127.0.0.1/32 md5'],
    },
    tags: {},
  };
}
