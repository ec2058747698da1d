/**
 * Replica-method conformance kit: a vitest suite any replica-method plugin (ours or a third
 * party's) runs against a real PostgreSQL primary the kit starts. It checks the contract the
 * replica chain relies on:
 *  - the manifest is one this pgha loads, and the config section passes its schema;
 *  - a clone leaves a data directory PostgreSQL starts from (as a standby, with the primary's rows);
 *  - failure is reported by a non-zero exit status (no throw, no hang);
 *  - on cancel (the request's signal aborts) the method resolves promptly, no child process is left
 *    and no connection to the source stays open.
 *
 *   import { runReplicaMethodConformance } from '@pgha/core/testing';
 *   runReplicaMethodConformance('mymethod', { plugin, config: { max_rate: '10M' } });
 *
 * PostgreSQL refuses to run as root: as root, the kit runs it (and the method) as PGHA_TEST_USER
 * (default `pgha`). Binaries come from PGHA_PG_BIN_DIR (default /usr/lib/postgresql/15/bin).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginServices, ReplicaPlugin, ReplicaSource } from '@pgha/plugin-api';
import pg from '../postgres/pg-driver.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { apiIncompatibility, manifestProblems } from '../plugins/manifest.js';
import { validateWith } from '../plugins/schema.js';
import { runCommand } from '../postgres/exec.js';
import type { ReplicaMethod } from '../replica/contract.js';
import { systemClock } from '../util/clock.js';

export interface ReplicaConformanceTarget {
  readonly plugin: ReplicaPlugin<any, any>;
  /** The method's config section (validated with the plugin's schema first). */
  readonly config?: unknown;
  /** Services to hand the plugin beyond the kit's defaults (config {}, silent logger, clock, fetch, members = [primary]). */
  readonly services?: Partial<PluginServices>;
  /** How long a clone of a fresh cluster may take (default 120 s). */
  readonly timeoutMs?: number;
}

const REPL = { user: 'replicator', password: 'conformance-secret' };

function binDir(): string {
  const dir = process.env.PGHA_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
  for (const t of ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup']) {
    if (!existsSync(join(dir, t))) throw new Error(`${join(dir, t)} is missing: apt-get install postgresql-15 (or set PGHA_PG_BIN_DIR)`);
  }
  return dir;
}

function runAsUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const user = process.env.PGHA_TEST_USER ?? 'pgha';
  try {
    return { uid: Number(execFileSync('id', ['-u', user]).toString().trim()), gid: Number(execFileSync('id', ['-g', user]).toString().trim()) };
  } catch {
    throw new Error(`running as root, PostgreSQL needs an unprivileged user: useradd --system ${user} (or set PGHA_TEST_USER)`);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Processes (other than us) whose command line mentions `path`. */
function processesMentioning(path: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try { if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(path)) pids.push(Number(e)); } catch { /* gone */ }
  }
  return pids;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

export function runReplicaMethodConformance(label: string, target: ReplicaConformanceTarget): void {
  describe(`replica method conformance: ${label}`, () => {
    const timeout = target.timeoutMs ?? 120_000;
    let root = '';
    let bin = '';
    let user: { uid: number; gid: number } | null = null;
    let port = 0;
    let pgpass = '';
    let clones = 0;
    const primaryData = () => join(root, 'primary');
    const own = (p: string) => { if (user) chownSync(p, user.uid, user.gid); };
    const pgctl = (args: string[]) => runCommand(join(bin, 'pg_ctl'), args, { runAs: user });
    const sql = async (p: number, text: string) => {
      const c = new pg.Client({ host: '127.0.0.1', port: p, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 });
      c.on('error', () => undefined); // a server stopped after the answer: the query already has its result
      await c.connect();
      try { return (await c.query<Record<string, unknown>>(text)).rows; } finally { await c.end().catch(() => undefined); }
    };
    const source = (p: number): ReplicaSource => ({
      name: 'primary', connUrl: `postgres://127.0.0.1:${p}/postgres`,
      connKwargs: (auth) => ({ host: '127.0.0.1', port: p, dbname: 'postgres', ...(auth ?? {}) }),
    });

    /** A fresh empty data directory and the method built for it, as the replica chain would build it. */
    async function method(): Promise<{ m: ReplicaMethod; dataDir: string }> {
      const dataDir = join(root, `clone${++clones}`);
      mkdirSync(dataDir, { mode: 0o700 });
      own(dataDir);
      const schema = target.plugin.configSchema;
      const r = schema ? await validateWith(schema, target.config ?? {}, `postgresql.${target.plugin.configKey}`) : { ok: true as const, value: target.config ?? {} };
      if (!r.ok) throw new Error(`config section invalid: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      const services: PluginServices = {
        config: {}, logger: silentLogger, clock: systemClock, http: fetch,
        members: { list: async () => [{ ...source(port), role: 'primary', state: 'running', apiUrl: null, lsn: null, isLeader: true, tags: {} }] },
        ...target.services,
      };
      const uses = (target.plugin.uses ?? []) as (keyof PluginServices)[];
      const picked = Object.fromEntries(uses.map((n) => [n, services[n]]));
      const ctx = {
        scope: 'conformance', name: `clone${clones}`, dataDir, binDir: bin, bin: (t: string) => join(bin, t), runAs: user,
        wipeDataDir: () => { for (const e of readdirSync(dataDir)) rmSync(join(dataDir, e), { recursive: true, force: true }); },
        logger: silentLogger, services: picked,
      };
      return { m: (await target.plugin.create(ctx as never, r.value)) as ReplicaMethod, dataDir };
    }

    const request = (p: number, signal: AbortSignal) => {
      const env = { PGPASSFILE: pgpass };
      return {
        source: source(p), connstring: `host=127.0.0.1 port=${p} user=${REPL.user} dbname=postgres`, env, signal,
        connect: (m: ReplicaSource) => ({ connstring: `host=${String(m.connKwargs().host)} port=${String(m.connKwargs().port)} user=${REPL.user} dbname=postgres`, env }),
      };
    };

    beforeAll(async () => {
      bin = binDir();
      user = runAsUser();
      root = mkdtempSync(join(tmpdir(), 'pgha-replica-conformance-'));
      own(root);
      port = await freePort();
      pgpass = join(root, 'pgpass');
      writeFileSync(pgpass, `127.0.0.1:*:*:${REPL.user}:${REPL.password}\n`, { mode: 0o600 });
      own(pgpass);
      const init = await runCommand(join(bin, 'initdb'), ['-D', primaryData(), '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], { runAs: user });
      if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
      writeFileSync(join(primaryData(), 'pg_hba.conf'), `local all all trust\nhost replication ${REPL.user} 127.0.0.1/32 md5\nhost all all 127.0.0.1/32 trust\n`);
      const start = await pgctl(['start', '-w', '-t', '60', '-D', primaryData(), '-l', join(root, 'primary.log'),
        '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c max_wal_senders=5 -c logging_collector=off`]);
      if (start.code !== 0) throw new Error(`the primary did not start: ${start.stderr}`);
      await sql(port, `CREATE ROLE ${REPL.user} LOGIN REPLICATION PASSWORD '${REPL.password}'`);
      await sql(port, "CREATE TABLE conformance_marker AS SELECT 'cloned' AS v");
    }, 120_000);

    afterAll(async () => {
      if (root && existsSync(join(primaryData(), 'postmaster.pid'))) await pgctl(['stop', '-m', 'immediate', '-D', primaryData()]);
      if (root) rmSync(root, { recursive: true, force: true });
    }, 60_000);

    it('has a manifest this pgha loads and a config section its schema accepts', async () => {
      expect(apiIncompatibility(label, target.plugin.apiVersion)).toBeNull();
      expect(manifestProblems(target.plugin)).toEqual([]);
      expect(target.plugin.kind).toBe('replica');
      await method();
    });

    it('leaves a data directory PostgreSQL starts from, as a standby with the primary\'s data', async () => {
      const { m, dataDir } = await method();
      expect(await m.create(request(port, new AbortController().signal))).toBe(0);
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
      writeFileSync(join(dataDir, 'standby.signal'), '');
      own(join(dataDir, 'standby.signal'));
      const clonePort = await freePort();
      const start = await pgctl(['start', '-w', '-t', '60', '-D', dataDir, '-l', join(root, `clone${clones}.log`),
        '-o', `-c listen_addresses=127.0.0.1 -p ${clonePort} -k ${root} -c logging_collector=off`]);
      try {
        expect(start.code, start.stderr).toBe(0);
        expect(await sql(clonePort, 'SELECT pg_is_in_recovery() AS r, (SELECT v FROM conformance_marker) AS v')).toEqual([{ r: true, v: 'cloned' }]);
      } finally {
        await pgctl(['stop', '-m', 'fast', '-D', dataDir]);
      }
    }, timeout);

    it('reports failure by a non-zero exit status when the source cannot be reached', async () => {
      const { m } = await method();
      const code = await m.create(request(await freePort(), new AbortController().signal));
      expect(typeof code).toBe('number');
      expect(code).not.toBe(0);
    }, timeout);

    it('on cancel resolves promptly, leaves no child process and no connection to the source', async () => {
      // A source that accepts connections and never answers: the method is stuck until cancelled.
      const sockets = new Set<Socket>();
      const hole: Server = createServer((s) => { sockets.add(s); s.resume(); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); });
      await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
      const holePort = (hole.address() as { port: number }).port;
      try {
        const { m, dataDir } = await method();
        const ac = new AbortController();
        const started = m.create(request(holePort, ac.signal)).then((c) => ({ code: c }), (e: unknown) => ({ error: e }));
        await waitUntil(() => sockets.size > 0, 15_000);
        ac.abort();
        const t0 = Date.now();
        const outcome = await Promise.race([started, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
        expect(outcome, 'create() must settle within 20 s of the abort').not.toBe('hung');
        expect(Date.now() - t0).toBeLessThan(20_000);
        if (outcome !== 'hung' && 'code' in outcome) expect(outcome.code).not.toBe(0);
        expect(await waitUntil(() => processesMentioning(dataDir).length === 0, 5000), `processes left: ${processesMentioning(dataDir).join(', ')}`).toBe(true);
        expect(await waitUntil(() => sockets.size === 0, 5000), 'a connection to the source stayed open after cancel').toBe(true);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((r) => hole.close(r));
      }
    }, timeout);
  });
}
