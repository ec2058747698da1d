/**
 * The demo's configuration: one Patroni-style YAML file per node (`DIR/nodeN.yml`) on the embedded
 * Raft DCS, loopback ports, generated passwords and short HA timings. An existing directory's
 * files are read back, so `pgha demo --dir DIR` restarts the same cluster.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { pickPorts } from './ports.js';

export const DEMO_SCOPE = 'demo';
export const SUPERUSER_NAME = 'postgres';
/** Patroni's example ports: PostgreSQL 5432.., REST API 8008.., Raft 2222... */
export const DEFAULT_PORTS = { pg: 5432, api: 8008, raft: 2222 } as const;

export interface DemoNode {
  readonly name: string;
  readonly configPath: string;
  /** Per-node directory: data/, raft/, pgpass, the agent's log. */
  readonly dir: string;
  readonly dataDir: string;
  readonly pgPort: number;
  readonly apiPort: number;
  readonly raftPort: number;
}

export interface DemoCluster {
  readonly dir: string;
  readonly scope: string;
  readonly superuserPassword: string;
  readonly nodes: DemoNode[];
  /** True when the configs were written now (false: reused from an earlier run). */
  readonly fresh: boolean;
}

const password = () => randomBytes(12).toString('hex');

/** PostgreSQL's unix socket path must fit in 107 bytes: use the node directory when it is short enough. */
function socketDir(nodeDir: string): string {
  return nodeDir.length <= 80 ? nodeDir : '/tmp';
}

export function nodeConfig(o: {
  scope: string; name: string; nodeDir: string; binDir: string; pgPort: number; apiPort: number;
  raftAddrs: string[]; index: number; passwords: { superuser: string; replication: string; rewind: string; raft: string };
}): Record<string, unknown> {
  const self = o.raftAddrs[o.index]!;
  return {
    scope: o.scope,
    namespace: '/service/',
    name: o.name,
    log: { type: 'plain', level: 'INFO' },
    restapi: { listen: `127.0.0.1:${o.apiPort}`, connect_address: `127.0.0.1:${o.apiPort}` },
    raft: {
      self_addr: self,
      partner_addrs: o.raftAddrs.filter((a) => a !== self),
      data_dir: join(o.nodeDir, 'raft'),
      password: o.passwords.raft,
    },
    bootstrap: {
      dcs: {
        // ttl 20 is Patroni's minimum; a dead primary is replaced in about ttl + loop_wait seconds.
        ttl: 20, loop_wait: 2, retry_timeout: 5, maximum_lag_on_failover: 1048576,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: { wal_log_hints: 'on', hot_standby: 'on', max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: '128MB' },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${o.pgPort}`,
      connect_address: `127.0.0.1:${o.pgPort}`,
      data_dir: join(o.nodeDir, 'data'),
      bin_dir: o.binDir,
      pgpass: join(o.nodeDir, 'pgpass'),
      authentication: {
        superuser: { username: SUPERUSER_NAME, password: o.passwords.superuser },
        replication: { username: 'replicator', password: o.passwords.replication },
        rewind: { username: 'rewind_user', password: o.passwords.rewind },
      },
      parameters: { unix_socket_directories: socketDir(o.nodeDir), logging_collector: 'off' },
      pg_hba: [
        'local all all trust',
        'host replication replicator 127.0.0.1/32 scram-sha-256',
        'host all all 127.0.0.1/32 scram-sha-256',
      ],
    },
  };
}

/** Fresh configs for `count` nodes on free ports (defaults first). Returns the files' contents by path. */
export async function newCluster(dir: string, count: number, binDir: string): Promise<{ cluster: DemoCluster; files: Map<string, string> }> {
  const reserved = new Set<number>();
  const pgPorts = await pickPorts(DEFAULT_PORTS.pg, count, reserved);
  const apiPorts = await pickPorts(DEFAULT_PORTS.api, count, reserved);
  const raftPorts = await pickPorts(DEFAULT_PORTS.raft, count, reserved);
  const raftAddrs = raftPorts.map((p) => `127.0.0.1:${p}`);
  const passwords = { superuser: password(), replication: password(), rewind: password(), raft: password() };
  const files = new Map<string, string>();
  const nodes: DemoNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node${i + 1}`;
    const nodeDir = join(dir, name);
    const configPath = join(dir, `${name}.yml`);
    const config = nodeConfig({ scope: DEMO_SCOPE, name, nodeDir, binDir, pgPort: pgPorts[i]!, apiPort: apiPorts[i]!, raftAddrs, index: i, passwords });
    files.set(configPath, `# pgha demo: ${name} of ${count} (Patroni-compatible configuration, embedded Raft DCS)\n${stringify(config)}`);
    nodes.push({ name, configPath, dir: nodeDir, dataDir: join(nodeDir, 'data'), pgPort: pgPorts[i]!, apiPort: apiPorts[i]!, raftPort: raftPorts[i]! });
  }
  return { cluster: { dir, scope: DEMO_SCOPE, superuserPassword: passwords.superuser, nodes, fresh: true }, files };
}

function portOf(addr: unknown, what: string, file: string): number {
  const m = typeof addr === 'string' ? /:(\d+)$/.exec(addr) : null;
  if (!m) throw new Error(`${file}: ${what} is not host:port`);
  return Number(m[1]);
}

/** The demo configs already in `dir` (node*.yml), or null when there are none. */
export function existingCluster(dir: string): DemoCluster | null {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => /^node\d+\.yml$/.test(f)).sort((a, b) => Number(a.slice(4, -4)) - Number(b.slice(4, -4)));
  if (!files.length) return null;
  let scope = DEMO_SCOPE;
  let superuserPassword = '';
  const nodes = files.map((f) => {
    const configPath = join(dir, f);
    const doc = (parse(readFileSync(configPath, 'utf8')) ?? {}) as Record<string, any>;
    scope = String(doc.scope ?? scope);
    superuserPassword = String(doc.postgresql?.authentication?.superuser?.password ?? superuserPassword);
    const dataDir = String(doc.postgresql?.data_dir ?? join(dir, f.slice(0, -4), 'data'));
    return {
      name: String(doc.name ?? f.slice(0, -4)),
      configPath,
      dir: join(dir, f.slice(0, -4)),
      dataDir,
      pgPort: portOf(doc.postgresql?.listen, 'postgresql.listen', configPath),
      apiPort: portOf(doc.restapi?.listen, 'restapi.listen', configPath),
      raftPort: portOf(doc.raft?.self_addr, 'raft.self_addr', configPath),
    };
  });
  return { dir, scope, superuserPassword, nodes, fresh: false };
}

/** A libpq URI that always lands on the primary: every node, target_session_attrs=read-write. */
export function primaryConnectionString(c: Pick<DemoCluster, 'superuserPassword' | 'nodes'>): string {
  const hosts = c.nodes.map((n) => `127.0.0.1:${n.pgPort}`).join(',');
  return `postgresql://${SUPERUSER_NAME}:${encodeURIComponent(c.superuserPassword)}@${hosts}/postgres?target_session_attrs=read-write`;
}
