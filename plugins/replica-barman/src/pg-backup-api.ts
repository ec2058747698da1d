/**
 * A client for pg-backup-api's recovery operations, as patroni_barman uses them: GET /status must
 * answer "OK"; POST /servers/<server>/operations {type: recovery, backup_id, remote_ssh_command,
 * destination_directory} returns an operation_id; GET /servers/<server>/operations/<id> reports
 * IN_PROGRESS, DONE or FAILED. Requests are retried `maxRetries` times, `retryWait` s apart.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface PgBackupApiOptions {
  readonly url: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Seconds between retries (patroni_barman: 2). */
  readonly retryWait?: number;
  /** Attempts per request (patroni_barman: 5). */
  readonly maxRetries?: number;
  /** Per-request timeout in ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export class PgBackupApiError extends Error {}

const MAX_BODY = 1024 * 1024;

export class PgBackupApi {
  private readonly base: URL;
  private readonly tls: { cert?: Buffer; key?: Buffer };

  constructor(private readonly o: PgBackupApiOptions) {
    this.base = new URL(o.url.endsWith('/') ? o.url : `${o.url}/`);
    this.tls = { ...(o.certFile ? { cert: readFileSync(o.certFile) } : {}), ...(o.keyFile ? { key: readFileSync(o.keyFile) } : {}) };
  }

  private once(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(url, {
        method, timeout: this.o.timeoutMs ?? 30_000, ...this.tls,
        headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) { r.destroy(new PgBackupApiError(`${method} ${url.href}: response larger than ${MAX_BODY} bytes`)); return; }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new PgBackupApiError(`${method} ${url.href}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new PgBackupApiError(`${method} ${url.href}: timed out`)));
      r.on('error', reject);
      r.end(data);
    });
  }

  /** One request with retries; `pick` extracts the wanted field and throws when it is missing. */
  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, pick: (v: unknown) => T): Promise<T> {
    const attempts = this.o.maxRetries ?? 5;
    let last: unknown;
    for (let i = 1; i <= attempts; i++) {
      if (this.o.signal?.aborted) throw new PgBackupApiError('cancelled');
      try {
        return pick(await this.once(method, path, body));
      } catch (e) {
        last = e;
      }
      if (i < attempts) await sleep((this.o.retryWait ?? 2) * 1000, this.o.signal);
    }
    throw new PgBackupApiError(`${method} ${path}: giving up after ${attempts} attempts: ${last instanceof Error ? last.message : String(last)}`);
  }

  async ensureOk(): Promise<void> {
    const v = await this.once('GET', 'status').catch((e: unknown) => { throw new PgBackupApiError(`pg-backup-api at ${this.base.href} is not reachable: ${e instanceof Error ? e.message : String(e)}`); });
    if (v !== 'OK') throw new PgBackupApiError(`pg-backup-api is currently not up and running at ${this.base.href}: ${JSON.stringify(v)}`);
  }

  createRecovery(server: string, backupId: string, sshCommand: string, dataDir: string): Promise<string> {
    return this.call('POST', `servers/${encodeURIComponent(server)}/operations`,
      { type: 'recovery', backup_id: backupId, remote_ssh_command: sshCommand, destination_directory: dataDir },
      (v) => field(v, 'operation_id'));
  }

  status(server: string, operationId: string): Promise<'IN_PROGRESS' | 'DONE' | 'FAILED'> {
    return this.call('GET', `servers/${encodeURIComponent(server)}/operations/${encodeURIComponent(operationId)}`, undefined, (v) => {
      const s = field(v, 'status');
      if (s !== 'IN_PROGRESS' && s !== 'DONE' && s !== 'FAILED') throw new PgBackupApiError(`unknown operation status ${JSON.stringify(s).slice(0, 100)}`);
      return s;
    });
  }
}

function field(v: unknown, key: string): string {
  const x = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  if (typeof x !== 'string' || !x || x.length > 1000) throw new PgBackupApiError(`response has no ${key}: ${JSON.stringify(v)?.slice(0, 200)}`);
  return x;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
