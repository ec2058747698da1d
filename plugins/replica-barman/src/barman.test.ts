import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CustomScriptReplicaMethod, silentLogger, validateWith, type ReplicaMethodContext } from '@pgha/core';
import plugin, { BarmanApiMethod, BarmanRecoverMethod, barmanSection, parsePatroniBarmanArgv, PgBackupApi, recoverArgv } from './index.js';

const ctx = { scope: 'demo', name: 'node2', dataDir: '/data/pg', binDir: '/bin', bin: (t: string) => t, runAs: null, wipeDataDir: () => {}, logger: silentLogger, services: {} } as ReplicaMethodContext & { services: {} };

describe('barman replica plugin', () => {
  it('is a replica plugin named barman', () => {
    expect(plugin).toMatchObject({ kind: 'replica', name: 'barman', configKey: 'barman', apiVersion: '1.0' });
  });

  it('builds barman recover: config, extra options, remote ssh, server, backup id (latest by default), PGDATA', () => {
    expect(recoverArgv({ 'barman-server': 'pg' }, '/d')).toEqual(['barman', 'recover', 'pg', 'latest', '/d']);
    expect(recoverArgv({ 'barman-server': 'pg', 'backup-id': '20240101T000000', config: '/etc/b.conf', 'get-wal': true, jobs: 4, 'ssh-command': 'ssh postgres@db', 'no-get-wal': false }, '/d')).toEqual([
      'barman', '-c', '/etc/b.conf', 'recover', '--get-wal', '--jobs=4', '--remote-ssh-command=ssh postgres@db', 'pg', '20240101T000000', '/d',
    ]);
  });

  it("reads patroni_barman's command line", () => {
    expect(parsePatroniBarmanArgv(['patroni_barman', '--api-url', 'https://b:7480', '--retry-wait=3', 'recover', '--barman-server', 's'])).toEqual({
      subcommand: 'recover', options: { 'api-url': 'https://b:7480', 'retry-wait': '3', 'barman-server': 's' },
    });
  });

  it('picks the form: patroni_barman → pg-backup-api, api-url → pg-backup-api, other commands → script, else local recover', async () => {
    expect(await plugin.create(ctx, { command: 'patroni_barman --api-url http://b:7480 recover', 'barman-server': 's', 'ssh-command': 'ssh x' })).toBeInstanceOf(BarmanApiMethod);
    expect(await plugin.create(ctx, { 'api-url': 'http://b:7480', 'barman-server': 's', 'ssh-command': 'ssh x' })).toBeInstanceOf(BarmanApiMethod);
    expect(await plugin.create(ctx, { command: '/usr/local/bin/my-barman-restore', no_leader: true })).toBeInstanceOf(CustomScriptReplicaMethod);
    expect(await plugin.create(ctx, { 'barman-server': 's' })).toBeInstanceOf(BarmanRecoverMethod);
    await expect(async () => plugin.create(ctx, { command: 'patroni_barman --api-url http://b recover' })).rejects.toThrow(/barman-server is required/);
    await expect(async () => plugin.create(ctx, { command: 'patroni_barman --api-url http://b config-switch', 'barman-server': 's', 'ssh-command': 'x' })).rejects.toThrow(/config-switch is not a replica method/);
  });

  it('validates the section; errors name the key', async () => {
    const r = await validateWith(barmanSection, { 'api-url': 'not a url', 'loop-wait': -1, 'Odd Key': 1 }, 'postgresql.barman');
    expect(r.ok).toBe(false);
    const paths = (r as { issues: Array<{ path: string }> }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['postgresql.barman.api-url', 'postgresql.barman.barman-server', 'postgresql.barman.loop-wait', 'postgresql.barman.Odd Key']));
  });
});

describe('pg-backup-api client against hostile answers', () => {
  let server: Server | null = null;
  afterEach(async () => { await new Promise<void>((r) => (server ? server.close(() => r()) : r())); server = null; });

  async function serve(handler: (path: string, body: string) => [number, string]): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        const [code, text] = handler(req.url ?? '/', body);
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(text);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const a = server.address();
    return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  it('GET /status must be "OK"', async () => {
    const url = await serve(() => [200, '"DOWN"']);
    await expect(new PgBackupApi({ url }).ensureOk()).rejects.toThrow(/not up and running.*"DOWN"/);
    await expect(new PgBackupApi({ url: 'http://127.0.0.1:1' }).ensureOk()).rejects.toThrow(/not reachable/);
  });

  it('retries answers without operation_id or with unknown status, then gives up with the reason', async () => {
    let posts = 0;
    const url = await serve((path) => {
      if (path.endsWith('/operations')) { posts++; return posts < 3 ? [500, '<html>oops</html>'] : [202, '{"operation_id":"op7"}']; }
      return [200, '{"status":"SOMETHING"}'];
    });
    const api = new PgBackupApi({ url, retryWait: 0, maxRetries: 3 });
    expect(await api.createRecovery('s', 'latest', 'ssh x', '/d')).toBe('op7');
    expect(posts).toBe(3);
    await expect(api.status('s', 'op7')).rejects.toThrow(/giving up after 3 attempts: unknown operation status "SOMETHING"/);
  });

  it('refuses oversized bodies and odd types', async () => {
    const url = await serve((path) => (path.endsWith('/operations') ? [202, JSON.stringify({ operation_id: 'x'.repeat(2 * 1024 * 1024) })] : [200, '[1,2]']));
    const api = new PgBackupApi({ url, retryWait: 0, maxRetries: 1 });
    await expect(api.createRecovery('s', 'latest', 'ssh', '/d')).rejects.toThrow(/larger than/);
    await expect(api.status('s', 'op')).rejects.toThrow(/no status/);
  });

  it('escapes server names and ids in paths', async () => {
    const seen: string[] = [];
    const url = await serve((path) => { seen.push(path); return [200, '{"status":"DONE"}']; });
    expect(await new PgBackupApi({ url }).status('a/b', '../x')).toBe('DONE');
    expect(seen).toEqual(['/servers/a%2Fb/operations/..%2Fx']);
  });
});
