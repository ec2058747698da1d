/**
 * The agent's side of the fence (fence-script.ts): find the fence guarding this data directory (a
 * restarted agent takes over the running one) or start it detached, then feed / disarm it through
 * its command FIFO. The agent holds the only write end of that FIFO, so the fence learns of the
 * agent's death from end-of-file; the agent learns of the fence's death the same way on the reply
 * FIFO (`onLost`), and restarts it instead of running unguarded.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { deadlineTimer } from '../util/clock.js';
import { chownTo } from '../postgres/exec.js';
import { adoptPostmaster, pidAlive, postmasterArgs, postmasterEnv, type SpawnPostmasterOptions, type WatchedPostmaster } from '../postgres/postmaster.js';
import { DeadlineFile, UptimeClock, uptimeMs } from './deadline-file.js';
import { DEADMAN_SCRIPT } from './deadman.js';
import { FENCE_SCRIPT } from './fence-script.js';
import type { FenceReply, FenceRequest, FenceState } from './protocol.js';

/**
 * One fence per data directory. Its FIFOs, state and log live in a private directory of this OS
 * user (`$TMPDIR/pgha-<uid>/`, mode 0700, created on demand), named by a hash of the data
 * directory's absolute path: they never depend on a directory the user may not have created, never
 * collide between clusters, and carry no user-controlled text in their names.
 */
export function fenceFiles(dataDir: string, uid = process.getuid?.() ?? 0): { dir: string; base: string; log: string } {
  const dir = join(tmpdir(), `pgha-${uid}`);
  const base = join(dir, `fence-${createHash('sha1').update(resolve(dataDir)).digest('hex').slice(0, 16)}`);
  return { dir, base, log: `${base}.log` };
}

const MAX_LOG_BYTES = 10 * 1024 * 1024;
const REPLY_TIMEOUT_MS = 5000;
/** Started outside the agent's process tree: the launching shell exits, the fence is init's child in its own session. */
const LAUNCH = '( exec setsid bash -c "$0" pgha-fence "$1" "$2" </dev/null >/dev/null 2>>"$3" ) & echo $!';

/** A value quoted for bash (`source`d by the fence from the spawn request file). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The running fence for `base`, by its PID file (and that the PID still is a fence). */
function runningFence(base: string): number | null {
  try {
    const pid = Number(readFileSync(`${base}.pid`, 'utf8').trim());
    if (!(pid > 0) || !pidAlive(pid)) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('pgha-fence') ? pid : null;
  } catch {
    return null;
  }
}

export class FenceClient {
  private cmdFd: number | null = null;
  private reply: Socket | null = null;
  private buf = '';
  private seq = 0;
  private waiting = new Map<number, (r: FenceReply) => void>();
  private ready: (() => void) | null = null;
  private lostHandlers: Array<() => void> = [];
  private closing = false;
  /**
   * Feeds between requests: the deadline the fence itself last got (uptime ms) and the reply, the
   * deadline last written to `<base>.deadline`. Null: the next feed is a request (see feed()).
   */
  private fed: { until: number; state: FenceState } | null = null;
  private written: number | null = null;
  private readonly deadlineFile: DeadlineFile;
  private readonly uptime = new UptimeClock();

  readonly base: string;
  readonly logFile: string;

  constructor(readonly dataDir: string, private readonly logger: Logger, base?: string, logFile?: string) {
    const files = fenceFiles(dataDir);
    this.base = base ?? files.base;
    this.logFile = logFile ?? files.log;
    this.deadlineFile = new DeadlineFile(`${this.base}.deadline`);
    if (!base || !logFile) mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  }

  get connected(): boolean { return this.cmdFd !== null; }

  /** Called when the fence dies (its reply FIFO reaches end-of-file). */
  onLost(cb: () => void): void { this.lostHandlers.push(cb); }

  private openReply(): void {
    const fd = openSync(`${this.base}.reply`, constants.O_RDONLY | constants.O_NONBLOCK);
    const s = new Socket({ fd, readable: true, writable: false });
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => this.onData(chunk));
    s.on('error', () => undefined);
    s.on('close', () => this.onClose(s));
    this.reply = s;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const sp = line.indexOf(' ');
      const seq = Number(line.slice(0, sp));
      if (line.slice(sp + 1) === 'ready') { this.ready?.(); continue; }
      // Replies to a previous agent's requests may still sit in the FIFO: only ours count.
      const w = this.waiting.get(seq);
      if (!w) continue;
      this.waiting.delete(seq);
      try { w(JSON.parse(line.slice(sp + 1)) as FenceReply); } catch { w({ ok: false, error: 'bad reply' }); }
    }
  }

  private onClose(s: Socket): void {
    if (this.reply !== s) return;
    this.reply = null;
    this.fed = null;
    if (this.cmdFd !== null) try { closeSync(this.cmdFd); } catch { /* closed */ }
    this.cmdFd = null;
    for (const w of this.waiting.values()) w({ ok: false, error: 'the fence exited' });
    this.waiting.clear();
    if (!this.closing) for (const cb of this.lostHandlers) cb();
  }

  private attach(): void {
    this.closing = false;
    this.fed = null;
    this.openReply();
    // Read-write and non-blocking: opening never waits, and a frozen fence can never block the agent.
    this.cmdFd = openSync(`${this.base}.cmd`, constants.O_RDWR | constants.O_NONBLOCK);
  }

  private async start(): Promise<void> {
    try {
      if (statSync(this.logFile).size > MAX_LOG_BYTES) truncateSync(this.logFile, 0);
    } catch { /* no log yet */ }
    closeSync(openSync(this.logFile, 'a', 0o600));
    for (const f of ['cmd', 'reply']) {
      rmSync(`${this.base}.${f}`, { force: true });
      const r = spawnSync('mkfifo', ['-m', '600', `${this.base}.${f}`]);
      if (r.status !== 0) throw new Error(`mkfifo ${this.base}.${f} failed: ${String(r.stderr ?? r.error)}`);
    }
    const isReady = new Promise<void>((res) => { this.ready = res; });
    this.openReply();
    // Until the fence has opened its end, a FIFO without a writer would read as end-of-file.
    const hold = openSync(`${this.base}.reply`, constants.O_WRONLY | constants.O_NONBLOCK);
    const launched = spawnSync('bash', ['-c', LAUNCH, FENCE_SCRIPT, this.base, resolve(this.dataDir), this.logFile], {
      stdio: ['ignore', 'pipe', 'inherit'], timeout: 5000, env: { ...process.env, DEADMAN_SCRIPT },
    });
    const pid = Number(String(launched.stdout ?? '').trim());
    if (!(pid > 0)) throw new Error('the fence did not start (is bash installed?)');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([isReady, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('the fence did not start within 5 s')), 5000); })])
      .finally(() => { clearTimeout(timer); this.ready = null; closeSync(hold); });
    this.cmdFd = openSync(`${this.base}.cmd`, constants.O_RDWR | constants.O_NONBLOCK);
    this.logger.info(`started the fence (pid ${pid}) for ${this.dataDir}`);
  }

  private connecting: Promise<void> | null = null;

  /**
   * Attach to the running fence, or start one. Concurrent callers share one attempt (never two
   * fences). A fence that exits just as we attach (it had nothing left to guard) is replaced once.
   */
  async ensure(): Promise<FenceState> {
    for (let attempt = 1; ; attempt++) {
      let attached = false;
      if (this.cmdFd === null) {
        this.connecting ??= (async () => {
          this.reply?.destroy();
          this.reply = null;
          if (runningFence(this.base) !== null) {
            this.attach();
            attached = true;
          } else await this.start();
        })().finally(() => { this.connecting = null; });
        await this.connecting;
      }
      try {
        return await this.request({ cmd: 'status' });
      } catch (e) {
        if (!attached || attempt > 1 || this.cmdFd !== null) throw e;
        this.logger.info('the fence exited as this agent attached; starting a new one');
      }
    }
  }

  /** The running fence's state (from its state file) without starting or attaching; null when none runs. */
  async existing(): Promise<FenceState | null> {
    const pid = runningFence(this.base);
    if (pid === null) return null;
    let st: FenceState;
    try {
      st = JSON.parse(readFileSync(`${this.base}.state`, 'utf8')) as FenceState;
    } catch {
      return null;
    }
    if (st.pid !== pid) return null;
    if (!st.armed || typeof st.deadlineAt !== 'number') return st;
    // It fires at its own deadline unless the agent wrote a later one since (fence-script.ts).
    const at = Math.max(st.deadlineAt, DeadlineFile.read(this.deadlineFile.path) ?? 0);
    return { ...st, deadlineAt: at, deadlineLeftMs: Math.max(0, at - uptimeMs()) };
  }

  async request(req: FenceRequest): Promise<FenceState> {
    if (this.cmdFd === null) await this.ensure();
    const fd = this.cmdFd;
    if (fd === null) throw new Error('fence not connected');
    const seq = ++this.seq;
    let line: string;
    if (req.cmd === 'feed') line = `${seq} feed ${Math.max(1, Math.round(req.deadlineMs))}\n`;
    else if (req.cmd === 'spawn') {
      const s = req.spawn;
      const env = Object.entries(s.env).map(([k, v]) => `${k}=${v}`);
      const creds = s.uid !== undefined && s.gid !== undefined ? [`--reuid=${s.uid}`, `--regid=${s.gid}`, '--clear-groups'] : [];
      writeFileSync(`${this.base}.spawn`, [
        `FILE=${q(s.file)}`, `CWD=${q(s.cwd)}`, `LOGF=${q(s.logFile)}`,
        `ARGS=(${s.args.map(q).join(' ')})`, `ENVV=(${env.map(q).join(' ')})`, `CREDS=(${creds.map(q).join(' ')})`, '',
      ].join('\n'), { mode: 0o600 });
      line = `${seq} spawn\n`;
    } else line = `${seq} ${req.cmd}\n`;
    const reply = await new Promise<FenceReply>((res) => {
      // Stall-aware: an agent stopped while a request was out must read the reply before giving up.
      const cancel = deadlineTimer(REPLY_TIMEOUT_MS, () => { this.waiting.delete(seq); res({ ok: false, error: `no reply within ${REPLY_TIMEOUT_MS} ms` }); });
      this.waiting.set(seq, (r) => { cancel(); res(r); });
      try {
        writeSync(fd, line);
      } catch (e) {
        // EAGAIN: the fence has not read 64 KiB of requests — it is frozen or stuck.
        this.waiting.delete(seq);
        cancel();
        res({ ok: false, error: `cannot write to the fence: ${e instanceof Error ? e.message : String(e)}` });
      }
    });
    if (!reply.ok) throw new Error(`fence: ${reply.error}`);
    return reply.state;
  }

  /**
   * Set the deadline `deadlineMs` from now. Every deadline is written to `<base>.deadline`, which
   * the fence and the deadman read when their own deadline comes; a request goes out only to arm,
   * to shorten the deadline, or once the fence's own deadline is less than a quarter of this one
   * away — so the fence (and the deadman it tells) wakes once every several cycles instead of every
   * cycle (with ttl 20, loop_wait 2: every sixth cycle; at a half it was every fourth), and still never
   * fires before the last deadline written, nor after it: should its own deadline come first, it
   * reads the file then.
   */
  async feed(deadlineMs: number): Promise<FenceState> {
    const ms = Math.max(1, Math.round(deadlineMs));
    const fed = this.fed;
    // A request re-reads the clock's offset and reopens the file (a new fence starts without one).
    if (!fed) this.uptime.sync();
    const now = this.uptime.now();
    const at = now + ms;
    const inFile = this.writeDeadline(at, !fed);
    // A fence started by an older pgha reports no deadlineAt and does not read the file.
    const readsFile = typeof fed?.state.deadlineAt === 'number';
    if (inFile && fed && readsFile && this.written !== null && at >= this.written && fed.until - now >= ms / 4) {
      this.written = at;
      return { ...fed.state, deadlineLeftMs: ms, deadlineAt: at };
    }
    this.fed = null;
    const state = await this.request({ cmd: 'feed', deadlineMs: ms });
    this.written = inFile ? at : null;
    if (this.cmdFd !== null) this.fed = { until: at, state };
    return state;
  }

  /** Unwritable: removed (the fence keeps to its own deadline), and fed by requests meanwhile. */
  private writeDeadline(at: number, reopen: boolean): boolean {
    const f = this.deadlineFile;
    try {
      if (reopen) f.reopen();
      f.write(at);
      return true;
    } catch (e) {
      this.logger.warn(`cannot write ${f.path}; feeding the fence by request: ${e instanceof Error ? e.message : String(e)}`);
      f.close();
      try { rmSync(f.path, { force: true }); } catch { /* the fence reads its own deadline then */ }
      return false;
    }
  }

  disarm(): Promise<FenceState> { this.fed = null; return this.request({ cmd: 'disarm' }); }
  fire(): Promise<FenceState> { this.fed = null; return this.request({ cmd: 'fire' }); }
  status(): Promise<FenceState> { return this.request({ cmd: 'status' }); }

  /**
   * Start PostgreSQL as the fence's child (the controller's launcher): it gets the parent-death
   * signal, so it cannot outlive the fence. Its exit is watched by PID (adoptPostmaster).
   */
  async spawnPostmaster(o: SpawnPostmasterOptions): Promise<WatchedPostmaster> {
    closeSync(openSync(o.logFile, 'a', 0o600));
    chownTo(o.logFile, o.runAs);
    const st = await this.request({
      cmd: 'spawn',
      spawn: {
        file: o.postgres, args: postmasterArgs(o), cwd: o.dataDir, env: postmasterEnv(o.env), logFile: o.logFile,
        ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
      },
    });
    if (st.child === null) throw new Error('the fence did not start PostgreSQL');
    return adoptPostmaster(st.child);
  }

  /** Detach without disarming (an armed fence then freezes PostgreSQL until a new agent feeds it). */
  close(): void {
    this.closing = true;
    this.fed = null;
    this.deadlineFile.close();
    if (this.cmdFd !== null) try { closeSync(this.cmdFd); } catch { /* closed */ }
    this.cmdFd = null;
    this.reply?.destroy();
    this.reply = null;
  }
}
