/**
 * The agent's side of the fence: find the fence guarding this data directory (a restarted agent
 * takes over the running one) or spawn it detached, then feed / disarm it. If the fence dies the
 * client notices at once (`onLost`) so the agent can restart it instead of running unguarded.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, truncateSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { chownTo } from '../postgres/exec.js';
import { adoptPostmaster, postmasterArgs, postmasterEnv, type SpawnPostmasterOptions, type WatchedPostmaster } from '../postgres/postmaster.js';
import type { FenceReply, FenceRequest, FenceState } from './protocol.js';

const FENCE_SCRIPT = fileURLToPath(new URL('./fence-process.js', import.meta.url));

/**
 * One fence per data directory. Its socket and log live in a private directory of this OS user
 * (`$TMPDIR/pgha-<uid>/`, mode 0700, created on demand), named by a hash of the data directory's
 * absolute path: they never depend on a directory the user may not have created, never collide
 * between clusters, and carry no user-controlled text in their names. The path stays short enough
 * for sun_path.
 */
export function fenceFiles(dataDir: string, uid = process.getuid?.() ?? 0): { dir: string; socket: string; log: string } {
  const dir = join(tmpdir(), `pgha-${uid}`);
  const base = `fence-${createHash('sha1').update(resolve(dataDir)).digest('hex').slice(0, 16)}`;
  return { dir, socket: join(dir, `${base}.sock`), log: join(dir, `${base}.log`) };
}

const MAX_LOG_BYTES = 10 * 1024 * 1024;

export class FenceClient {
  private sock: Socket | null = null;
  private buf = '';
  private waiting: Array<(r: FenceReply) => void> = [];
  private lostHandlers: Array<() => void> = [];
  private closing = false;

  readonly socketPath: string;
  readonly logFile: string;

  constructor(readonly dataDir: string, private readonly logger: Logger, socketPath?: string, logFile?: string) {
    const files = fenceFiles(dataDir);
    this.socketPath = socketPath ?? files.socket;
    this.logFile = logFile ?? files.log;
    if (!socketPath || !logFile) mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  }

  get connected(): boolean { return this.sock !== null; }

  /** Called when the connection to the fence drops unexpectedly (the fence died). */
  onLost(cb: () => void): void { this.lostHandlers.push(cb); }

  private connectOnce(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.socketPath);
      s.setEncoding('utf8');
      s.once('connect', () => {
        this.sock = s;
        s.on('data', (chunk: string) => this.onData(chunk));
        s.on('close', () => this.onClose(s));
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const w = this.waiting.shift();
      try { w?.(JSON.parse(line) as FenceReply); } catch { w?.({ ok: false, error: 'bad reply' }); }
    }
  }

  private onClose(s: Socket): void {
    if (this.sock !== s) return;
    this.sock = null;
    for (const w of this.waiting.splice(0)) w({ ok: false, error: 'fence connection closed' });
    if (!this.closing) for (const cb of this.lostHandlers) cb();
  }

  private async spawnFence(): Promise<void> {
    try {
      if (statSync(this.logFile).size > MAX_LOG_BYTES) truncateSync(this.logFile, 0);
    } catch { /* no log yet */ }
    const out = openSync(this.logFile, 'a', 0o600);
    const child = spawn(process.execPath, [FENCE_SCRIPT, this.socketPath, resolve(this.dataDir)], {
      detached: true, stdio: ['ignore', 'pipe', out],
    });
    closeSync(out);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the fence did not start within 5 s')), 5000);
      child.stdout!.once('data', () => { clearTimeout(t); resolve(); });
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`the fence exited with ${code}`)); });
    });
    child.stdout!.destroy();
    child.unref();
    this.logger.info(`started the fence (pid ${child.pid}) for ${this.dataDir}`);
  }

  private connecting: Promise<void> | null = null;

  /** Connect to the running fence, or start one. Concurrent callers share one attempt (never two fences). */
  async ensure(): Promise<FenceState> {
    if (!this.sock) {
      this.connecting ??= (async () => {
        if (await this.connectOnce()) return;
        await this.spawnFence();
        if (!(await this.connectOnce())) throw new Error(`cannot connect to the fence at ${this.socketPath}`);
      })().finally(() => { this.connecting = null; });
      await this.connecting;
    }
    return this.request({ cmd: 'status' });
  }

  /** The running fence's state without starting one; null when none answers. */
  async existing(): Promise<FenceState | null> {
    if (!this.sock && !(await this.connectOnce())) return null;
    return this.request({ cmd: 'status' }).catch(() => null);
  }

  async request(req: FenceRequest): Promise<FenceState> {
    if (!this.sock) await this.ensure();
    const s = this.sock;
    if (!s) throw new Error('fence not connected');
    const reply = await new Promise<FenceReply>((resolve) => {
      this.waiting.push(resolve);
      s.write(JSON.stringify(req) + '\n');
    });
    if (!reply.ok) throw new Error(`fence: ${reply.error}`);
    return reply.state;
  }

  feed(deadlineMs: number): Promise<FenceState> { return this.request({ cmd: 'feed', deadlineMs }); }
  disarm(): Promise<FenceState> { return this.request({ cmd: 'disarm' }); }
  fire(): Promise<FenceState> { return this.request({ cmd: 'fire' }); }
  status(): Promise<FenceState> { return this.request({ cmd: 'status' }); }

  /**
   * Start PostgreSQL as the fence's child (the controller's launcher): it gets the parent-death
   * signal, so it cannot outlive the fence. Its exit is watched by PID.
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
    return adoptPostmaster(st.child, 100);
  }

  /** Disconnect without disarming (an armed fence then freezes PostgreSQL until a new agent feeds it). */
  close(): void {
    this.closing = true;
    this.sock?.destroy();
    this.sock = null;
  }
}
