/**
 * Real PostgreSQL 15 nodes for the postgres/bootstrap/replica tests: a controller per node in a
 * temp dir owned by the test user, 127.0.0.1 only, sockets in the temp dir; everything started is
 * stopped by PID and removed in `cleanupNodes()`. Each node also has `ha`, the agent's own
 * PostgresPort over that controller: bootstrap, start, follow, demote, promote and rewind go
 * through it, so these tests exercise the paths the agent takes.
 */
import { existsSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { ControllerPort, Member, PluginHost, PostgresController, silentLogger, stopPostmasterByPid, waitForPidExit, runningPostmaster } from '@pgha/core';
import type { PostgresControllerOptions } from '@pgha/core';
import { freePort } from '../helpers/ports.js';
import { testUser, userTempDir } from '../helpers/user.js';

export const BIN_DIR = process.env.PGHA_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** Fail with install advice when a PostgreSQL binary is missing. */
export function requirePostgres(tools = ['postgres', 'initdb', 'pg_ctl', 'pg_controldata', 'pg_basebackup', 'pg_rewind', 'psql']): void {
  for (const t of tools) {
    if (!existsSync(join(BIN_DIR, t))) {
      throw new Error(`${join(BIN_DIR, t)} is missing: install PostgreSQL 15 server binaries (apt-get install postgresql-15) or run scripts/install-deps.sh`);
    }
  }
}

export const PASSWORDS = { superuser: 'su secret', replication: 'rep:secret', rewind: 'rw secret' };

export interface TestNode {
  readonly name: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly pg: PostgresController;
  /** The agent's PostgresPort over `pg` (no bootstrap section: see `bootstrapCluster`). */
  readonly ha: ControllerPort;
  /** This node as a DCS member (conn_url without credentials). */
  member(): Member;
}

const plugins = new PluginHost({ config: {} });
const never = new AbortController().signal;

const nodes: TestNode[] = [];

// Each test file restarts the worker's port sequence at the same place; start at a random offset so
// a port a previous file's (or a concurrent run's) server still holds is not handed out again.
let portsSkipped = false;
async function nodePort(): Promise<number> {
  if (!portsSkipped) {
    portsSkipped = true;
    for (let i = randomInt(0, 300); i > 0; i--) await freePort();
  }
  return freePort();
}
const dirs: string[] = [];

export interface NodeOptions {
  readonly parameters?: Record<string, unknown>;
  /** postgresql.pg_hba; null leaves initdb's file (plus bootstrap.pg_hba). */
  readonly pgHba?: string[] | null;
  readonly extra?: Record<string, unknown>;
  /** Start the postmaster through this launcher (the fence's), as the agent does. */
  readonly launch?: PostgresControllerOptions['launch'];
}

export const DEFAULT_HBA = [
  'local all all trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  'host replication all 127.0.0.1/32 scram-sha-256',
];

export async function makeNode(name: string, o: NodeOptions = {}): Promise<TestNode> {
  requirePostgres();
  const dir = userTempDir(name);
  dirs.push(dir);
  const port = await nodePort();
  const dataDir = join(dir, 'data');
  const u = testUser();
  const pg = new PostgresController({
    postgresql: {
      data_dir: dataDir, bin_dir: BIN_DIR, listen: `127.0.0.1:${port}`, pgpass: join(dir, 'pgpass'), pg_ctl_timeout: 30,
      authentication: {
        superuser: { username: 'postgres', password: PASSWORDS.superuser },
        replication: { username: 'replicator', password: PASSWORDS.replication },
        rewind: { username: 'rewinder', password: PASSWORDS.rewind },
      },
      parameters: { unix_socket_directories: dir, shared_buffers: '16MB', fsync: 'off', ...o.parameters },
      ...(o.pgHba === null ? {} : { pg_hba: o.pgHba ?? DEFAULT_HBA }),
      ...o.extra,
    },
    scope: 'pgtest', name, uid: u?.uid, gid: u?.gid, logger: process.env.PGHA_TEST_LOG ? undefined : silentLogger,
    ...(o.launch ? { launch: o.launch } : {}),
  });
  const node: TestNode = {
    name, dir, dataDir, port, pg, ha: new ControllerPort(pg, {}, plugins),
    member: () => Member.fromNode(1, name, null, { conn_url: `postgres://127.0.0.1:${port}/postgres`, state: 'running', role: 'replica' }),
  };
  nodes.push(node);
  return node;
}

/** A temp dir the test user owns (for scripts, backups, archives); removed by cleanupNodes. */
export function tempDir(prefix: string): string {
  const d = userTempDir(prefix);
  dirs.push(d);
  return d;
}

/** A shell script the test user can run. */
export function writeScript(dir: string, name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** Stop every postgres started from our nodes (immediate, by PID), close connections, remove temp dirs. */
export async function cleanupNodes(): Promise<void> {
  for (const n of nodes.splice(0)) {
    await n.pg.close();
    const pid = runningPostmaster(n.dataDir)?.pid;
    if (pid) {
      stopPostmasterByPid(n.dataDir, 'immediate');
      if (!(await waitForPidExit(pid, 10_000))) process.kill(pid, 'SIGKILL');
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface BootstrapOutcome {
  readonly ok: boolean;
  readonly error?: string | null;
  /** The controller's state when the bootstrap failed (what the member key showed). */
  readonly failedState?: string;
  /** Where PGDATA went after a failure (as cancel_initialization moves it). */
  readonly movedTo?: string | null;
}

/**
 * Bootstrap as the agent does, through its port: the `bootstrap` long action (initdb or the custom
 * method, first start), waiting for the end of recovery, `post_bootstrap`; on failure what
 * `cancel_initialization` does (immediate stop, PGDATA moved aside).
 */
export async function bootstrapCluster(node: TestNode, section: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<BootstrapOutcome> {
  const port = new ControllerPort(node.pg, section, plugins);
  let ok = await port.bootstrap(never);
  if (ok) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (await port.facts()).inRecovery !== false) await new Promise((r) => setTimeout(r, 200));
    ok = (await port.facts()).inRecovery === false && (await port.postBootstrap(never));
  }
  if (ok) return { ok };
  const error = port.lastError ?? 'the new cluster did not become primary';
  const failedState = node.pg.state;
  await port.stop('immediate').catch(() => false);
  return { ok: false, error, failedState, movedTo: await port.moveDataDirAside() };
}

/** initdb + start + post_bootstrap: a running primary with the replication and rewind roles. */
export async function startPrimary(node: TestNode, bootstrap: Record<string, unknown> = {}): Promise<void> {
  const r = await bootstrapCluster(node, bootstrap);
  if (!r.ok) throw new Error(`bootstrap of ${node.name} failed: ${r.error}`);
}

/**
 * `node` follows `leader` (null: nobody, archive recovery) as the agent does: a stopped node starts
 * as a replica (the `start` action), a running one converges its recovery settings (`follow`).
 * True once it runs as a replica with those settings.
 */
export async function follow(node: TestNode, leader: Member | null): Promise<boolean> {
  if (!node.pg.isRunning()) return node.ha.start('replica', leader, never);
  const r = await node.ha.follow(leader);
  if (r === 'restart_needed') return node.ha.restart(never);
  return true;
}
