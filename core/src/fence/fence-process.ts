/**
 * The fence: a tiny supervisor that starts and parents PostgreSQL and guards it while it is a
 * primary. No single pgha process has to survive for the guarantee to hold:
 *  - PostgreSQL runs as the fence's child with the parent-death signal set to SIGKILL, so killing
 *    the fence — alone, or with the agent's whole process tree — kills the postmaster at once;
 *  - the armed agent's connection closes (agent died): freeze PostgreSQL (SIGSTOP) so no write is
 *    acknowledged; a new agent that still holds the lock feeds it and it thaws;
 *  - the deadline passes (agent dead or frozen): kill PostgreSQL. The agent sets the deadline to
 *    `ttl - safety_margin` after the lease renewal that keeps its lock alive was sent, so this always
 *    happens before the lease can expire and a replica can be promoted;
 *  - the fence itself frozen with the agent: the deadman (deadman.ts), a separate bash timer fed
 *    with every deadline, kills PostgreSQL when it passes.
 * Usage: node fence-process.js SOCKET DATA_DIR
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, realpathSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { Deadman } from './deadman.js';
import type { FenceReply, FenceRequest, FenceState, SpawnRequest } from './protocol.js';
import { freeze, kill, killLeftovers, postmasterOf, thaw } from './postgres-processes.js';

const [socketPath, dataDirArg] = process.argv.slice(2);
if (!socketPath || !dataDirArg) {
  process.stderr.write('usage: fence-process SOCKET DATA_DIR\n');
  process.exit(2);
}
/** As /proc/PID/cwd shows it (symlinks resolved): leftover PostgreSQL processes are found by it. */
const dataDir = (() => { try { return realpathSync(dataDirArg); } catch { return dataDirArg; } })();

const now = () => performance.now();
const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} pgha-fence[${process.pid}]: ${msg}\n`);

let deadline: number | null = null;
let owner: Socket | null = null;
let frozenPm: number | null = null;
let fired = 0;
let clients = 0;
let child: ChildProcess | null = null;
const deadman = new Deadman(`${socketPath}.deadman`, dataDir, log);

const childPid = (): number | null => (child && child.exitCode === null && child.signalCode === null ? child.pid ?? null : null);

const state = (): FenceState => ({
  armed: deadline !== null, frozen: frozenPm !== null, fired,
  deadlineLeftMs: deadline === null ? null : Math.max(0, Math.round(deadline - now())), pid: process.pid,
  child: childPid(), deadman: deadman.pid,
});

/** Nothing to guard, no PostgreSQL to parent, nobody connected: exit (an agent that needs a fence starts one). */
function maybeExit(): void {
  if (deadline === null && frozenPm === null && clients === 0 && childPid() === null) shutdown(0);
}

function disarm(): void {
  deadline = null;
  deadman.disarm();
}

function fire(why: string): void {
  const pm = postmasterOf(dataDir!) ?? frozenPm;
  disarm();
  frozenPm = null;
  if (pm) {
    kill(pm);
    fired++;
    log(`${why}: killed PostgreSQL (postmaster ${pm})`);
  } else log(`${why}: PostgreSQL is not running`);
  maybeExit();
}

function unfreeze(): void {
  if (frozenPm !== null) {
    thaw(frozenPm);
    log(`thawed PostgreSQL (postmaster ${frozenPm})`);
    frozenPm = null;
  }
}

/** setpriv sets the parent-death signal (and drops to PostgreSQL's user) and execs postgres: same PID. */
function startPostgres(req: SpawnRequest): number {
  if (childPid() !== null) throw new Error(`PostgreSQL already runs as the fence's child (pid ${childPid()})`);
  const leftovers = killLeftovers(dataDir!);
  if (leftovers.length) log(`killed ${leftovers.length} processes a dead postmaster left behind (${leftovers.join(', ')})`);
  const creds = req.uid !== undefined && req.gid !== undefined ? [`--reuid=${req.uid}`, `--regid=${req.gid}`, '--clear-groups'] : [];
  const out = openSync(req.logFile, 'a', 0o600);
  let c: ChildProcess;
  try {
    c = spawn('setpriv', ['--pdeathsig', 'KILL', ...creds, '--', req.file, ...req.args], {
      cwd: req.cwd, env: { ...req.env }, stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  if (c.pid === undefined) throw new Error('cannot start postgres (is setpriv from util-linux installed?)');
  c.on('error', (e) => log(`postgres: ${e.message}`));
  c.once('exit', (code, sig) => {
    log(`postmaster ${c.pid} exited (${sig ?? code})`);
    if (child === c) child = null;
    maybeExit();
  });
  child = c;
  log(`started PostgreSQL (postmaster ${c.pid})`);
  if (deadline !== null) deadman.arm(deadline - now(), c.pid);
  return c.pid;
}

function handle(sock: Socket, req: FenceRequest): FenceReply {
  switch (req.cmd) {
    case 'feed': {
      if (!(req.deadlineMs > 0)) return { ok: false, error: 'deadlineMs must be positive' };
      deadline = now() + req.deadlineMs;
      owner = sock;
      unfreeze();
      const pm = postmasterOf(dataDir!);
      if (pm) deadman.arm(req.deadlineMs, pm);
      break;
    }
    case 'disarm':
      disarm();
      unfreeze();
      break;
    case 'fire':
      fire('asked by the agent');
      break;
    case 'spawn':
      try {
        startPostgres(req.spawn);
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      break;
    case 'status':
      break;
    default:
      return { ok: false, error: 'unknown command' };
  }
  return { ok: true, state: state() };
}

const server = createServer((sock) => {
  clients++;
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > 1 << 20) return sock.destroy(); // no request is that large
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let reply: FenceReply;
      try {
        reply = handle(sock, JSON.parse(line) as FenceRequest);
      } catch (e) {
        reply = { ok: false, error: `bad request: ${e instanceof Error ? e.message : String(e)}` };
      }
      schedule(); // every request may have moved the deadline
      sock.write(JSON.stringify(reply) + '\n');
    }
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    clients--;
    if (sock !== owner) return maybeExit();
    owner = null;
    if (deadline !== null) {
      const pm = postmasterOf(dataDir!);
      if (pm) {
        freeze(pm);
        frozenPm = pm;
        log(`agent connection lost while armed: froze PostgreSQL (postmaster ${pm}); ${Math.round(deadline - now())} ms until it is killed`);
      }
    }
    maybeExit();
  });
});

// Timer wheel, not a poll: one timeout to the current deadline, re-set on every feed. A late wake-up
// (the fence was frozen) is covered by the deadman.
let timer: NodeJS.Timeout | null = null;
function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (deadline === null) return;
  timer = setTimeout(() => {
    if (deadline !== null && now() >= deadline) fire('feed deadline passed');
    else schedule();
  }, Math.max(0, deadline - now()));
}

let exiting = false;
function shutdown(code: number): void {
  if (exiting) return;
  exiting = true;
  if (timer) clearTimeout(timer);
  server.close();
  try { unlinkSync(socketPath!); } catch { /* already gone */ }
  void deadman.stop().finally(() => process.exit(code));
}

// A termination request while armed must not leave a primary unguarded: fence first. Otherwise
// stop the PostgreSQL we parent with a fast shutdown and exit when it is gone.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (deadline !== null) fire(`received ${sig} while armed`);
    const pm = childPid();
    if (pm === null) return shutdown(0);
    log(`received ${sig}: stopping PostgreSQL (postmaster ${pm}) before exiting`);
    try { process.kill(pm, 'SIGINT'); } catch { /* gone */ }
  });
}

if (existsSync(socketPath)) unlinkSync(socketPath);
server.listen(socketPath, () => {
  log(`guarding ${dataDir} on ${socketPath}`);
  process.stdout.write('ready\n');
  // The agent that started us connects right away; if it never does, do not linger.
  setTimeout(maybeExit, 10_000).unref();
});
