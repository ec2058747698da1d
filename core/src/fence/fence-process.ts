/**
 * The fence: a tiny supervisor the agent starts (detached, so it outlives the agent) that guards a
 * primary's PostgreSQL. While armed it must be fed before its deadline:
 *  - the armed agent's connection closes (agent died): freeze PostgreSQL at once (SIGSTOP) so no
 *    write is acknowledged; a new agent that still holds the lock feeds it and it thaws;
 *  - the deadline passes (agent dead or frozen): kill PostgreSQL. The agent sets the deadline to
 *    `ttl - safety_margin` after its last successful lock refresh was sent, so this always happens
 *    before the lease can expire and a replica can be promoted.
 * It owns nothing else. Usage: node fence-process.js SOCKET DATA_DIR
 */
import { createServer, type Socket } from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import type { FenceReply, FenceRequest, FenceState } from './protocol.js';
import { freeze, kill, postmasterOf, thaw } from './postgres-processes.js';

const [socketPath, dataDir] = process.argv.slice(2);
if (!socketPath || !dataDir) {
  process.stderr.write('usage: fence-process SOCKET DATA_DIR\n');
  process.exit(2);
}

const now = () => performance.now();
const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} pgha-fence[${process.pid}]: ${msg}\n`);

let deadline: number | null = null;
let owner: Socket | null = null;
let frozenPm: number | null = null;
let fired = 0;
let clients = 0;

const state = (): FenceState => ({
  armed: deadline !== null, frozen: frozenPm !== null, fired,
  deadlineLeftMs: deadline === null ? null : Math.max(0, Math.round(deadline - now())), pid: process.pid,
});

/** Nothing to guard and nobody connected: exit (an agent that needs a fence starts one). */
function maybeExit(): void {
  if (deadline === null && frozenPm === null && clients === 0) shutdown(0);
}

function fire(why: string): void {
  const pm = postmasterOf(dataDir!) ?? frozenPm;
  deadline = null;
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

function handle(sock: Socket, req: FenceRequest): FenceReply {
  switch (req.cmd) {
    case 'feed':
      if (!(req.deadlineMs > 0)) return { ok: false, error: 'deadlineMs must be positive' };
      deadline = now() + req.deadlineMs;
      owner = sock;
      unfreeze();
      break;
    case 'disarm':
      deadline = null;
      unfreeze();
      break;
    case 'fire':
      fire('asked by the agent');
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
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let reply: FenceReply;
      try {
        reply = handle(sock, JSON.parse(line) as FenceRequest);
      } catch (e) {
        reply = { ok: false, error: `bad request: ${e instanceof Error ? e.message : String(e)}` };
      }
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

const ticker = setInterval(() => {
  if (deadline !== null && now() >= deadline) fire('feed deadline passed');
}, 20);

function shutdown(code: number): void {
  clearInterval(ticker);
  server.close();
  try { unlinkSync(socketPath!); } catch { /* already gone */ }
  process.exit(code);
}

// A termination request while armed must not leave a primary unguarded: fence first.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (deadline !== null) fire(`received ${sig} while armed`);
    shutdown(0);
  });
}

if (existsSync(socketPath)) unlinkSync(socketPath);
server.listen(socketPath, () => {
  log(`guarding ${dataDir} on ${socketPath}`);
  process.stdout.write('ready\n');
  // The agent that started us connects right away; if it never does, do not linger.
  setTimeout(maybeExit, 10_000);
});
