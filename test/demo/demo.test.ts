/**
 * `pgha demo` end to end: the real CLI as a child process (as root here, so the demo must run its
 * agents as the unprivileged `pgha` user), real PostgreSQL 15, embedded Raft. The demo reaches a
 * healthy topology and prints a connection string that reaches a writable primary; SIGINT stops
 * everything it started (agents, postmasters, listeners) and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN_DIR, CLI, requirePostgresBinaries } from '../helpers/cluster.js';
import { isAlive, startProc, waitFor, type Proc } from '../helpers/procs.js';
import { testUser } from '../helpers/user.js';

let demo: Proc | null = null;
let dir: string | null = null;
/** Every process the demo started (its descendants), captured while it runs: pid -> start time. */
let descendants = new Map<number, string>();

/** Field 22 of /proc/PID/stat (start time in clock ticks) tells a PID's reuse apart. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** `state ppid cmdline` of a live process, for failure messages. */
function describeProcess(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return `${state} ppid ${ppid} (${comm}) ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
  } catch {
    return 'gone';
  }
}

function sameProcessAlive(pid: number, start: string): boolean {
  return isAlive(pid) && startTime(pid) === start;
}

function descendantsOf(root: number): Map<number, string> {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch { /* exited meanwhile */ }
  }
  const out = new Map<number, string>();
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    const st = startTime(pid);
    if (st) out.set(pid, st);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** True when nothing accepts connections on 127.0.0.1:port. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(2000);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/**
 * libpq's rule for `host1:p1,host2:p2,...?target_session_attrs=read-write`: try the hosts in order
 * and keep the first session where transaction_read_only is off.
 */
async function connectReadWrite(uri: string): Promise<{ client: pg.Client; port: number }> {
  const m = /^postgresql:\/\/([^:@]+):([^@]+)@([^/]+)\/([^?]+)\?(.*)$/.exec(uri);
  if (!m) throw new Error(`unexpected connection string ${uri}`);
  const [, user, password, hostList, database, query] = m;
  expect(new URLSearchParams(query).get('target_session_attrs')).toBe('read-write');
  for (const hp of hostList!.split(',')) {
    const [host, port] = hp.split(':');
    const client = new pg.Client({ host, port: Number(port), user, password: decodeURIComponent(password!), database, connectionTimeoutMillis: 3000 });
    // The demo's failover ends this connection; the test sees that through its queries.
    client.on('error', () => undefined);
    try {
      await client.connect();
      const ro = (await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only')).rows[0]!.transaction_read_only;
      if (ro === 'off') return { client, port: Number(port) };
    } catch { /* next host */ }
    await client.end().catch(() => undefined);
  }
  throw new Error(`no read-write server in ${hostList}`);
}

afterAll(async () => {
  // Only after a failure is anything still running: stop the demo, then whatever it left, by PID.
  if (demo) {
    if (demo.child.exitCode === null && demo.child.signalCode === null) {
      demo.child.kill('SIGINT');
      await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 60_000))]);
    }
    await demo.stop(5000);
  }
  for (const [pid, st] of descendants) if (sameProcessAlive(pid, st)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  if (dir && !process.env.PGHA_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('pgha demo', () => {
  it('without the PostgreSQL binaries says how to install them and exits 1', () => {
    const empty = mkdtempSync(join(tmpdir(), 'pgha-nobin-'));
    try {
      const r = spawnSync(process.execPath, [CLI, 'demo', '--dir', join(empty, 'c')], { env: { ...process.env, PGHA_PG_BIN_DIR: empty }, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/apt-get install postgresql-15/);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('runs a healthy 3-node cluster, prints a primary connection string, and SIGINT stops everything', async () => {
    requirePostgresBinaries();
    if (process.getuid?.() === 0) testUser(); // the demo must drop to this user; fail early with advice if it is missing
    dir = mkdtempSync(join(tmpdir(), 'pgha-demo-test-'));
    let out = '';
    demo = startProc(process.execPath, [CLI, 'demo', '--nodes', '3', '--dir', dir], { env: { ...process.env, PGHA_PG_BIN_DIR: BIN_DIR } });
    demo.child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    const exitedEarly = demo.exited.then((c) => { throw new Error(`demo exited early (${c}):\n${demo!.output()}`); });
    await Promise.race([exitedEarly, waitFor(() => out.includes('Status changes follow'), 150_000, 'the demo to report a healthy cluster')]);

    // The topology: one leader, two streaming replicas, as a table with agent and postmaster PIDs.
    const rows = out.split('\n').filter((l) => /^\| node\d /.test(l)).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    expect(rows.map((r) => r[0])).toEqual(['node1', 'node2', 'node3']);
    const leaders = rows.filter((r) => r[1] === 'leader' && r[2] === 'running');
    expect(leaders).toHaveLength(1);
    expect(rows.filter((r) => r[1] === 'replica' && r[2] === 'streaming')).toHaveLength(2);
    const leaderRow = leaders[0]!;

    // The next steps name real commands: a switchover to an actual replica, kill -9 of the leader's real PIDs.
    expect(out).toMatch(new RegExp(`curl -s -XPOST http://127\\.0\\.0\\.1:\\d+/switchover -d '\\{"leader":"${leaderRow[0]}","candidate":"node\\d"\\}'`));
    expect(out).toContain(`kill -9 ${leaderRow[8]} ${leaderRow[9]}`);

    // The dashboard URL is printed and served.
    const dashboard = /^\s+(http:\/\/127\.0\.0\.1:\d+\/dashboard\/)$/m.exec(out)?.[1];
    expect(dashboard, out).toBeDefined();
    const page = await fetch(dashboard!, { signal: AbortSignal.timeout(5000) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>pgha dashboard</title>');

    // The connection string lists every node and lands on the leader, which accepts writes.
    const uri = /^\s+(postgresql:\/\/\S+target_session_attrs=read-write)$/m.exec(out)?.[1];
    expect(uri).toBeDefined();
    const configs = readdirSync(dir).filter((f) => /^node\d\.yml$/.test(f)).sort().map((f) => parse(readFileSync(join(dir!, f), 'utf8')) as Record<string, any>);
    expect(configs).toHaveLength(3);
    for (const c of configs) {
      expect(c.raft.self_addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(c.raft.partner_addrs).toHaveLength(2);
      expect(uri).toContain(c.postgresql.listen);
    }
    const { client, port } = await connectReadWrite(uri!);
    try {
      expect(`127.0.0.1:${port}`).toBe(leaderRow[5]);
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
      await client.query('CREATE TABLE demo_check (id int)');
      await client.query('INSERT INTO demo_check VALUES (42)');
      expect((await client.query('SELECT id FROM demo_check')).rows).toEqual([{ id: 42 }]);
    } finally {
      await client.end();
    }
    // libpq itself (psql from the same binaries) picks the same server.
    const psql = spawnSync(join(BIN_DIR, 'psql'), [uri!, '-Atc', 'SELECT inet_server_port()'], { encoding: 'utf8', timeout: 20_000 });
    expect(psql.stdout.trim()).toBe(String(port));

    // Agents run unprivileged when the demo is root; record every process and postmaster before stopping.
    descendants = descendantsOf(demo.pid);
    const agentPids = rows.map((r) => Number(r[8]));
    for (const pid of agentPids) expect(descendants.has(pid)).toBe(true);
    if (process.getuid?.() === 0) {
      for (const pid of agentPids) expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${testUser()!.uid}\\s`, 'm'));
    }
    const postmasters = configs.map((c) => Number(readFileSync(join(c.postgresql.data_dir, 'postmaster.pid'), 'utf8').split('\n')[0]));
    for (const pid of postmasters) expect(isAlive(pid)).toBe(true);
    expect(postmasters.sort()).toEqual(rows.map((r) => Number(r[9])).sort());
    const ports = configs.flatMap((c) => [c.postgresql.listen, c.restapi.listen, c.raft.self_addr].map((a: string) => Number(a.split(':')[1])));
    expect(new Set(ports).size).toBe(9);

    demo.child.kill('SIGINT');
    const code = await Promise.race([demo.exited, new Promise((r) => setTimeout(() => r('timeout'), 90_000))]);
    expect(code, demo.output()).toBe(0);
    expect(out).toMatch(/stopping 3 agents/);

    for (const [pid, st] of descendants) expect(sameProcessAlive(pid, st), `process ${pid} outlived the demo: ${describeProcess(pid)}`).toBe(false);
    for (const pid of [...agentPids, ...postmasters]) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    for (const port of ports) expect(await refused(port), `something still listens on ${port}`).toBe(true);
    // --dir is kept, with the configs, for a later `pgha demo --dir` to restart the same cluster.
    expect(readdirSync(dir).filter((f) => f.endsWith('.yml')).sort()).toEqual(['node1.yml', 'node2.yml', 'node3.yml']);
  }, 240_000);
});
