/**
 * The agent's side of the fence: find the fence guarding this data directory (a restarted agent
 * takes over the running one) or spawn it detached, then feed / disarm it. If the fence dies the
 * client notices at once (`onLost`) so the agent can restart it instead of running unguarded.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { FenceReply, FenceRequest, FenceState } from './protocol.js';

const FENCE_SCRIPT = fileURLToPath(new URL('./fence-process.js', import.meta.url));

/** One fence per data directory: the socket path is derived from it (short enough for sun_path). */
export function fenceSocketPath(dataDir: string): string {
  return join(tmpdir(), `pgha-fence-${createHash('sha1').update(dataDir).digest('hex').slice(0, 16)}.sock`);
}

export class FenceClient {
  private sock: Socket | null = null;
  private buf = '';
  private waiting: Array<(r: FenceReply) => void> = [];
  private lostHandlers: Array<() => void> = [];
  private closing = false;

  constructor(readonly dataDir: string, private readonly logger: Logger, readonly socketPath = fenceSocketPath(dataDir), private readonly logFile?: string) {}

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
    const out = this.logFile ? openSync(this.logFile, 'a') : 'ignore';
    const child = spawn(process.execPath, [FENCE_SCRIPT, this.socketPath, this.dataDir], {
      detached: true, stdio: ['ignore', 'pipe', out],
    });
    if (typeof out === 'number') closeSync(out);
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

  /** Disconnect without disarming (an armed fence then freezes PostgreSQL until a new agent feeds it). */
  close(): void {
    this.closing = true;
    this.sock?.destroy();
    this.sock = null;
  }
}
