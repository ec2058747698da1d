/**
 * PgBackupApiDouble: a test double of pg-backup-api (which is not installable here), speaking the
 * part of its HTTP API that patroni_barman uses: GET /status, POST /servers/<server>/operations
 * (type recovery) and GET /servers/<server>/operations/<id>. A recovery operation runs the real
 * `barman recover` locally into destination_directory (where pg-backup-api would run it with
 * --remote-ssh-command), so the replica it produces is real; requests are recorded for assertions.
 */
import { createServer, type Server } from 'node:http';
import { runCommand } from '@pgha/core';
import { testUser } from '../helpers/user.js';
import { BIN_DIR } from '../postgres/pg-helpers.js';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

export interface PgBackupApiDoubleOptions {
  readonly barmanConfig: string;
  /** What GET /status answers (pg-backup-api says "OK"). */
  status?: unknown;
  /** Make recovery operations fail without running barman. */
  failRecoveries?: boolean;
}

export class PgBackupApiDouble {
  readonly requests: RecordedRequest[] = [];
  private readonly ops = new Map<string, { status: 'IN_PROGRESS' | 'DONE' | 'FAILED'; output: string }>();
  private server: Server | null = null;
  private seq = 0;
  port = 0;

  constructor(readonly opts: PgBackupApiDoubleOptions) {}

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  operation(id: string) { return this.ops.get(id); }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = null;
        try { body = text ? JSON.parse(text) : null; } catch { body = text; }
        const path = (req.url ?? '/').split('?')[0]!;
        this.requests.push({ method: req.method ?? '', path, body });
        const reply = (code: number, v: unknown) => {
          res.writeHead(code, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(v));
        };
        if (req.method === 'GET' && path === '/status') return reply(200, this.opts.status ?? 'OK');
        const m = /^\/servers\/([^/]+)\/operations(?:\/([^/]+))?$/.exec(path);
        if (!m) return reply(404, { error: 'not found' });
        const server = decodeURIComponent(m[1]!);
        if (req.method === 'POST' && !m[2]) {
          const b = body as Record<string, unknown>;
          if (b?.type !== 'recovery' || typeof b.destination_directory !== 'string' || typeof b.backup_id !== 'string') return reply(400, { error: 'bad request' });
          const id = `op${++this.seq}`;
          this.ops.set(id, { status: 'IN_PROGRESS', output: '' });
          void this.recover(id, server, b.backup_id, b.destination_directory);
          return reply(202, { operation_id: id });
        }
        if (req.method === 'GET' && m[2]) {
          const op = this.ops.get(decodeURIComponent(m[2]));
          return op ? reply(200, { recovery_id: m[2], status: op.status }) : reply(404, { error: 'no such operation' });
        }
        return reply(405, { error: 'method not allowed' });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  private async recover(id: string, server: string, backupId: string, dest: string): Promise<void> {
    if (this.opts.failRecoveries) {
      this.ops.set(id, { status: 'FAILED', output: 'configured to fail' });
      return;
    }
    const r = await runCommand('barman', ['-c', this.opts.barmanConfig, 'recover', server, backupId, dest], { runAs: testUser(), env: { PATH: `${BIN_DIR}:${process.env.PATH}` } });
    this.ops.set(id, { status: r.code === 0 ? 'DONE' : 'FAILED', output: `${r.stdout}${r.stderr}` });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}
