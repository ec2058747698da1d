/**
 * `pgha demo [--nodes 3] [--dir DIR]`: a local N-node PostgreSQL HA cluster on the embedded Raft
 * DCS (no external service). Writes a Patroni-style config per node, starts `pgha run` for each
 * (as the unprivileged user `pgha` when run as root: postgres refuses root), waits for a leader and
 * N-1 streaming replicas, prints the topology, a connection string that always reaches the primary
 * and what to try next, then streams status changes until Ctrl-C/SIGTERM, which stops everything by
 * PID and exits 0.
 */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { existingCluster, newCluster, primaryConnectionString, type DemoCluster, type DemoNode } from '../demo/config.js';
import { demoRunAs, type RunAs } from '../demo/os-user.js';
import { isPortFree } from '../demo/ports.js';
import { findPgBinDir } from '../demo/postgres-bin.js';
import { Agent, checkRunAsAccess, postmasterPid, stopPostmaster } from '../demo/supervisor.js';
import { fetchCluster, isHealthy, leaderOf, progress, summary, topologyTable, type ClusterView } from '../demo/topology.js';

export interface DemoOptions {
  readonly nodes?: string;
  readonly dir?: string;
  readonly keep?: boolean;
  readonly timeout?: string;
}

export interface DemoIo {
  out(s: string): void;
  err(s: string): void;
}

const stdio: DemoIo = {
  out: (s) => { process.stdout.write(`${s}\n`); },
  err: (s) => { process.stderr.write(`${s}\n`); },
};

/** cli/bin/pgha.js, from cli/dist/commands/demo.js. */
const CLI_BIN = fileURLToPath(new URL('../../bin/pgha.js', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clock = () => new Date().toTimeString().slice(0, 8);

function chown(paths: string[], runAs: RunAs | null): void {
  if (!runAs) return;
  for (const p of paths) chownSync(p, runAs.uid, runAs.gid);
}

/** How the user invokes us: `npx pgha` under npx, else `pgha`. */
function selfCommand(): string {
  return process.env.npm_command === 'exec' ? 'npx pgha' : 'pgha';
}

interface Prepared {
  readonly cluster: DemoCluster;
  readonly ownTemp: boolean;
}

async function prepare(o: DemoOptions, count: number, binDir: string, runAs: RunAs | null, io: DemoIo): Promise<Prepared> {
  let dir: string;
  let ownTemp = false;
  if (o.dir) {
    dir = resolve(o.dir);
    const existing = existingCluster(dir);
    if (existing) {
      if (o.nodes !== undefined && existing.nodes.length !== count) io.out(`note: ${dir} already holds a ${existing.nodes.length}-node demo; reusing it as is`);
      for (const n of existing.nodes) {
        for (const [what, port] of [['PostgreSQL', n.pgPort], ['REST API', n.apiPort], ['Raft', n.raftPort]] as const) {
          if (!(await isPortFree(port))) throw new Error(`${n.name}'s ${what} port ${port} (from ${n.configPath}) is in use: is a demo already running on ${dir}?`);
        }
      }
      chown([dir, ...existing.nodes.flatMap((n) => (existsSync(n.dir) ? [n.dir] : []))], runAs);
      io.out(`reusing the ${existing.nodes.length}-node demo in ${dir}`);
      return { cluster: existing, ownTemp };
    }
    if (existsSync(dir) && readdirSync(dir).length) throw new Error(`${dir} is not empty and holds no demo configuration (node1.yml, ...): choose an empty or new directory`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } else {
    dir = mkdtempSync(join(tmpdir(), 'pgha-demo-'));
    ownTemp = true;
  }
  const { cluster, files } = await newCluster(dir, count, binDir);
  for (const n of cluster.nodes) mkdirSync(n.dir, { recursive: true, mode: 0o700 });
  for (const [path, text] of files) writeFileSync(path, text, { mode: 0o600 });
  chown([dir, ...cluster.nodes.map((n) => n.dir), ...files.keys()], runAs);
  return { cluster, ownTemp };
}

/** The web dashboard of a node's REST API. */
export function dashboardUrl(n: DemoNode): string {
  return `http://127.0.0.1:${n.apiPort}/dashboard/`;
}

function nextSteps(c: DemoCluster, view: ClusterView, agents: Map<string, Agent>, verbs: ReadonlySet<string>, binDir: string, ownTemp: boolean, keep: boolean): string[] {
  const leader = leaderOf(view)!;
  const leaderNode = c.nodes.find((n) => n.name === leader.name)!;
  const candidate = c.nodes.find((n) => n.name !== leader.name);
  const pgha = selfCommand();
  const cfg = c.nodes[0]!.configPath;
  const psql = existsSync(join(binDir, 'psql')) ? join(binDir, 'psql') : 'psql';
  const agentPid = agents.get(leader.name)?.pid ?? '<agent pid>';
  const pmPid = postmasterPid(leaderNode.dataDir) ?? '<postmaster pid>';
  const lines = [
    '',
    'Connection string (libpq tries each host and keeps the one that accepts writes, so it always reaches the primary):',
    `  ${primaryConnectionString(c)}`,
    '',
    'Dashboard (topology, lag, history, switchover and restarts with confirmation; every node serves it):',
    `  ${dashboardUrl(leaderNode)}`,
    '',
    'Try next, in another terminal:',
    `  ${psql} '${primaryConnectionString(c)}' -c 'SELECT inet_server_port(), pg_is_in_recovery()'`,
  ];
  const listCmd = `${pgha} -c ${cfg} list`;
  const curlCmd = `curl -s http://127.0.0.1:${leaderNode.apiPort}/cluster`;
  const w = Math.max(verbs.has('list') ? listCmd.length : 0, curlCmd.length) + 2;
  if (verbs.has('list')) lines.push(`  ${listCmd.padEnd(w)}# the members table, as patronictl list`);
  lines.push(`  ${curlCmd.padEnd(w)}# the same from the REST API`);
  if (candidate) {
    lines.push('', `  # a switchover: ${leader.name} hands the primary role to ${candidate.name}`);
    lines.push(`  curl -s -XPOST http://127.0.0.1:${leaderNode.apiPort}/switchover -d '{"leader":"${leader.name}","candidate":"${candidate.name}"}'`);
    if (verbs.has('switchover')) lines.push(`  ${pgha} -c ${cfg} switchover --force --candidate ${candidate.name}`);
    lines.push('', `  # a failover: kill the primary's agent and PostgreSQL; a replica takes over within about ttl (20 s)`);
    lines.push(`  kill -9 ${agentPid} ${pmPid}`);
  }
  lines.push('');
  lines.push(`Configs: ${c.dir}/node*.yml; logs: ${c.dir}/node*/agent.log`);
  lines.push(`Ctrl-C stops every agent and PostgreSQL${ownTemp && !keep ? ` and removes ${c.dir}` : ''}. Status changes follow:`);
  return lines;
}

export async function runDemo(o: DemoOptions, verbs: ReadonlySet<string>, io: DemoIo = stdio): Promise<number> {
  const count = Number(o.nodes ?? '3');
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    io.err('--nodes must be a whole number from 1 to 9');
    return 2;
  }
  const timeoutMs = Number(o.timeout ?? '180') * 1000;
  const bin = findPgBinDir();
  if (!bin.ok) {
    io.err(bin.message);
    return 1;
  }

  let runAs: RunAs | null;
  let prepared: Prepared;
  try {
    runAs = demoRunAs(io.out);
    prepared = await prepare(o, count, bin.dir, runAs, io);
  } catch (e) {
    io.err(e instanceof Error ? e.message : String(e));
    return 1;
  }
  const { cluster: c, ownTemp } = prepared;
  const removeDir = () => { if (ownTemp && !o.keep) rmSync(c.dir, { recursive: true, force: true }); };
  if (runAs) {
    const problem = checkRunAsAccess(runAs, CLI_BIN, c.dir);
    if (problem) {
      io.err(problem);
      removeDir();
      return 1;
    }
  }

  const agents = new Map<string, Agent>(c.nodes.map((n) => [n.name, new Agent(n, CLI_BIN, runAs)]));
  const alive = (n: DemoNode) => agents.get(n.name)?.running ?? false;
  let phase: 'starting' | 'running' | 'stopping' = 'starting';

  // Ctrl-C / SIGTERM: stop by PID. A second signal while stopping kills at once.
  let requestStop!: (sig: string) => void;
  const stopRequested = new Promise<string>((r) => { requestStop = r; });
  const onSignal = (sig: NodeJS.Signals) => {
    if (phase === 'stopping') {
      io.out(`${sig} again: killing the agents now`);
      for (const a of agents.values()) a.killNow();
      return;
    }
    requestStop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Never leave agents behind, whatever happens to us.
  const lastResort = () => { for (const a of agents.values()) a.killNow(); };
  process.on('exit', lastResort);

  let failed: string | null = null;
  // On a terminal, Enter restarts agents that have exited (e.g. after `kill -9`).
  const interactive = !!process.stdin.isTTY && io === stdio;
  const onEnter = () => {
    if (phase !== 'running') return;
    for (const a of agents.values()) {
      if (a.running) continue;
      a.start();
      io.out(`[${clock()}] ${a.node.name}: agent started again (pid ${a.pid})`);
    }
  };
  for (const a of agents.values()) {
    a.onExit = (x) => {
      const how = x.exit?.signal ?? `exit code ${x.exit?.code}`;
      if (phase === 'starting') failed ??= `${x.node.name}'s agent exited (${how}) during startup; its log (${x.logFile}) ends with:\n${x.logTail()}`;
      else if (phase === 'running') {
        io.out(`[${clock()}] ${x.node.name}: agent (pid ${x.pid}) exited (${how})`);
        if (interactive) io.out(`  press Enter to start ${x.node.name} again (it rejoins as a replica, rewinding if it has diverged)`);
      }
    };
  }

  io.out(`Starting a ${c.nodes.length}-node PostgreSQL HA cluster '${c.scope}' on the embedded Raft DCS in ${c.dir}${runAs ? ` (agents run as '${runAs.name}')` : ''}`);
  io.out(`PostgreSQL binaries: ${bin.dir}`);
  for (const a of agents.values()) a.start();
  for (const a of agents.values()) io.out(`  ${a.node.name}: agent pid ${a.pid}, PostgreSQL 127.0.0.1:${a.node.pgPort}, REST API 127.0.0.1:${a.node.apiPort}, Raft 127.0.0.1:${a.node.raftPort}`);

  let stopSignal: string | null = null;
  void stopRequested.then((s) => { stopSignal = s; });

  // Wait for one leader and N-1 streaming replicas.
  const deadline = Date.now() + timeoutMs;
  let view: ClusterView | null = null;
  let lastProgress = '';
  let lastProgressAt = 0;
  while (!stopSignal && !failed) {
    view = await fetchCluster(c.nodes, alive);
    if (isHealthy(view, c.nodes.length)) break;
    const p = progress(view, c.nodes);
    if (p !== lastProgress || Date.now() - lastProgressAt > 15_000) {
      io.out(`  waiting: ${p}`);
      lastProgress = p;
      lastProgressAt = Date.now();
    }
    if (Date.now() > deadline) {
      failed = `the cluster did not become healthy within ${timeoutMs / 1000} s (${p}); the agents' logs end with:\n` +
        [...agents.values()].map((a) => `--- ${a.logFile}\n${a.logTail(8)}`).join('\n');
      break;
    }
    await Promise.race([sleep(500), stopRequested]);
  }

  let code = 0;
  if (failed) {
    io.err(failed);
    code = 1;
  } else if (!stopSignal && view) {
    phase = 'running';
    io.out('');
    io.out(topologyTable(c.scope, view, c.nodes, (n) => ({ agent: agents.get(n.name)?.pid ?? null, postmaster: postmasterPid(n.dataDir) })));
    for (const l of nextSteps(c, view, agents, verbs, bin.dir, ownTemp, !!o.keep)) io.out(l);
    let last = summary(view, c.nodes);
    let lastLeader = leaderOf(view)?.name ?? null;
    io.out(`[${clock()}] ${last}`);
    if (interactive) process.stdin.on('data', onEnter);
    while (!stopSignal) {
      await Promise.race([sleep(1000), stopRequested]);
      if (stopSignal) break;
      const v = await fetchCluster(c.nodes, alive);
      const s = summary(v, c.nodes);
      const leader = leaderOf(v)?.name ?? null;
      if (s !== last) {
        let extra = '';
        if (leader && leader !== lastLeader) {
          const n = c.nodes.find((x) => x.name === leader);
          extra = `  (new primary ${leader}: agent pid ${agents.get(leader)?.pid ?? '?'}, postmaster pid ${n ? postmasterPid(n.dataDir) ?? '?' : '?'})`;
        }
        io.out(`[${clock()}] ${s}${extra}`);
        last = s;
      }
      if (leader) lastLeader = leader;
    }
  }

  phase = 'stopping';
  if (interactive) {
    process.stdin.off('data', onEnter);
    process.stdin.pause();
  }
  io.out(`${stopSignal ? `${stopSignal}: ` : ''}stopping ${c.nodes.length} agents...`);
  await Promise.all([...agents.values()].map((a) => a.stop(30_000)));
  for (const n of c.nodes) {
    const pid = postmasterPid(n.dataDir);
    if (pid) {
      io.out(`  ${n.name}: postmaster ${pid} outlived its agent; stopping it`);
      await stopPostmaster(pid);
    }
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', lastResort);
  removeDir();
  io.out(ownTemp && !o.keep ? `stopped; removed ${c.dir}` : `stopped; ${c.dir} is kept (pgha demo --dir ${c.dir} starts it again)`);
  return code;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a local PostgreSQL HA cluster (embedded Raft DCS, no external service) until Ctrl-C')
    .option('-n, --nodes <n>', 'number of PostgreSQL nodes (default: 3)')
    .option('--dir <dir>', 'directory for configs and data; an existing demo directory is reused (default: a fresh temporary directory)')
    .option('--keep', 'keep the temporary directory on exit')
    .option('--timeout <seconds>', 'how long to wait for a healthy cluster', '180')
    .action(async (opts: DemoOptions) => {
      process.exitCode = await runDemo(opts, new Set(program.commands.map((c) => c.name())));
    });
}
