/**
 * Run pg_basebackup as the PostgreSQL user, in its own process group, reporting its --progress
 * lines and killing the whole group when the request is cancelled. Resolves with the exit status.
 */
import { spawn } from 'node:child_process';
import type { ProgressSinkLike, ReplicaMethodContext } from '@pgha/plugin-api';

/** `12345/67890 kB (18%), 0/1 tablespace` → done/total bytes and percent. */
export function parseProgress(line: string): { bytesDone: number; bytesTotal: number; percent: number } | null {
  const m = /(\d+)\/(\d+) kB \((\d+)%\)/.exec(line);
  return m ? { bytesDone: Number(m[1]) * 1024, bytesTotal: Number(m[2]) * 1024, percent: Number(m[3]) } : null;
}

export interface BasebackupRun {
  readonly ctx: ReplicaMethodContext;
  readonly connstring: string;
  readonly env: Readonly<Record<string, string>>;
  readonly maxRate: string | null;
  readonly signal: AbortSignal;
  readonly progress?: ProgressSinkLike;
}

export function runBasebackup(r: BasebackupRun): Promise<number> {
  const args = [`--pgdata=${r.ctx.dataDir}`, '-X', 'stream', '--checkpoint=fast', `--dbname=${r.connstring}`, '--progress',
    ...(r.maxRate ? [`--max-rate=${r.maxRate}`] : [])];
  const log = r.ctx.logger.child({ method: 'leastloaded' });
  return new Promise((resolve) => {
    if (r.signal.aborted) return resolve(1);
    const child = spawn(r.ctx.bin('pg_basebackup'), args, {
      cwd: '/tmp', detached: true, stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(r.ctx.runAs ? { HOME: '/tmp' } : {}), ...r.env },
      ...(r.ctx.runAs ? { uid: r.ctx.runAs.uid, gid: r.ctx.runAs.gid } : {}),
    });
    let tail = '';
    child.stderr!.on('data', (b: Buffer) => {
      tail = (tail + b.toString()).slice(-4000);
      for (const line of b.toString().split(/[\r\n]/)) {
        const p = parseProgress(line);
        if (p) r.progress?.update(p);
      }
    });
    let killTimer: NodeJS.Timeout | null = null;
    const kill = () => {
      // The whole group: pg_basebackup forks a WAL streamer.
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      killTimer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    };
    r.signal.addEventListener('abort', kill, { once: true });
    child.once('error', (e) => { log.error({ err: e.message }, 'pg_basebackup did not start'); });
    child.once('close', (code, sig) => {
      r.signal.removeEventListener('abort', kill);
      if (killTimer) clearTimeout(killTimer);
      const status = code ?? 1;
      if (status !== 0) log.error({ code, signal: sig, stderr: tail.split(/[\r\n]/).filter((l) => l && !parseProgress(l)).slice(-5).join('\n') }, 'pg_basebackup failed');
      resolve(status === 0 && !sig ? 0 : status || 1);
    });
  });
}
