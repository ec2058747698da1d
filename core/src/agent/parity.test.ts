/** Unit checks of what the agent writes as Patroni does: tag warnings, published tags, patroni.dynamic.json, member requests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { DynamicConfigCache, patroniCachedDynamic, pythonJsonDumps } from './dynamic-cache.js';
import { memberHttpClient } from './member-http.js';
import { publishedTags } from './member-data.js';
import { contradictoryTagWarnings } from './tag-warnings.js';
import { CallbackRunner } from './callbacks.js';

const tmp = mkdtempSync(join(tmpdir(), 'pgha-parity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('contradictory tags (Patroni config._validate_contradictory_tags)', () => {
  it.each([
    [{ nofailover: true, failover_priority: 1 }, ['Conflicting configuration between nofailover: True and failover_priority: 1. Defaulting to nofailover: True']],
    [{ nofailover: false, failover_priority: 0 }, ['Conflicting configuration between nofailover: False and failover_priority: 0. Defaulting to nofailover: False']],
    [{ nosync: true, sync_priority: '2' }, ['Conflicting configuration between nosync: True and sync_priority: 2. Defaulting to nosync: True']],
    [{ nosync: false, sync_priority: -1 }, ['Conflicting configuration between nosync: False and sync_priority: -1. Defaulting to nosync: False']],
    [{ nofailover: true, failover_priority: 0 }, []],
    [{ nofailover: false, failover_priority: 3 }, []],
    [{ failover_priority: 0 }, []],
    [{ nofailover: true }, []],
    [{ nofailover: true, failover_priority: 'high' }, []],
  ])('%j', (tags, want) => {
    expect(contradictoryTagWarnings(tags)).toEqual(want);
  });
});

describe('published tags (Patroni Tags._filter_tags)', () => {
  it('keeps nofailover/nosync whenever their priority is given, drops other false booleans', () => {
    expect(publishedTags({ nofailover: true, failover_priority: 1, nosync: false, sync_priority: 0 }))
      .toEqual({ nofailover: true, failover_priority: 1, nosync: false, sync_priority: 0 });
    expect(publishedTags({ nofailover: false, nosync: false, clonefrom: false, noloadbalance: true, team: 'blue' }))
      .toEqual({ noloadbalance: true, team: 'blue' });
  });
});

describe('patroni.dynamic.json', () => {
  it("is Python json.dumps' text, ASCII-escaped", () => {
    const v = { ttl: 30, loop_wait: 10, postgresql: { parameters: { max_connections: 100, x: 'é' }, use_slots: true }, slots: [], pause: null, r: 1.5 };
    const py = execFileSync('python3', ['-c', 'import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))'], { input: JSON.stringify(v) }).toString();
    expect(pythonJsonDumps(v)).toBe(py);
  });

  it('holds /config as given, with only Patroni\'s own timing adjustments', () => {
    const cfg = { ttl: 20, loop_wait: 1, retry_timeout: 5, postgresql: { use_pg_rewind: true } };
    expect(patroniCachedDynamic(cfg)).toEqual(cfg);
    expect(patroniCachedDynamic({ ttl: 10, loop_wait: 0 })).toEqual({ ttl: 20, loop_wait: 1, retry_timeout: 9 });
    expect(patroniCachedDynamic({ ttl: 20, loop_wait: 10, retry_timeout: 10 })).toEqual({ ttl: 20, loop_wait: 1, retry_timeout: 9 });
    expect(patroniCachedDynamic({ ttl: 30, loop_wait: 15, retry_timeout: 10 })).toEqual({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
  });

  it('is written only into an initialized data directory, through a temporary file, 0600, and only when changed', () => {
    const dataDir = mkdtempSync(join(tmp, 'data-'));
    const cache = new DynamicConfigCache(dataDir, null, silentLogger);
    cache.save({ ttl: 30 });
    expect(readdirSync(dataDir)).toEqual([]);
    writeFileSync(join(dataDir, 'PG_VERSION'), '15\n');
    cache.save({ ttl: 30, loop_wait: 10 });
    expect(readFileSync(cache.path, 'utf8')).toBe('{"ttl": 30, "loop_wait": 10}');
    expect(statSync(cache.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir).sort()).toEqual(['PG_VERSION', 'patroni.dynamic.json']);
    expect(cache.load()).toEqual({ ttl: 30, loop_wait: 10 });
    writeFileSync(cache.path, 'changed by someone');
    cache.save({ ttl: 30, loop_wait: 10 });
    expect(readFileSync(cache.path, 'utf8')).toBe('changed by someone');
    expect(cache.load()).toBeNull();
  });
});

describe('requests to members (Patroni PatroniRequest(config, insecure=True))', () => {
  it('reaches a TLS REST API with a private certificate, sending restapi Basic auth', async () => {
    const dir = mkdtempSync(join(tmp, 'tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=somewhere-else', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'pipe' });
    let auth = '';
    const server = createServer({ key: readFileSync(join(dir, 'k')), cert: readFileSync(join(dir, 'c')) }, (req, res) => {
      auth = req.headers.authorization ?? '';
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"role":"replica"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const http = memberHttpClient({ restapi: { authentication: { username: 'u', password: 'p' } } });
      const res = await http(`https://127.0.0.1:${port}/patroni`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ role: 'replica' });
      expect(auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
      await expect(fetch(`https://127.0.0.1:${port}/patroni`)).rejects.toThrow();
      // A reload of the local configuration applies new credentials (Patroni's request.reload_config).
      let cfg: Record<string, unknown> = { restapi: { authentication: { username: 'a', password: '1' } } };
      const reloading = memberHttpClient(() => cfg);
      await reloading(`https://127.0.0.1:${port}/patroni`);
      expect(auth).toBe(`Basic ${Buffer.from('a:1').toString('base64')}`);
      cfg = { ctl: { authentication: { username: 'b', password: '2' } } };
      await reloading(`https://127.0.0.1:${port}/patroni`);
      expect(auth).toBe(`Basic ${Buffer.from('b:2').toString('base64')}`);
    } finally {
      server.close();
    }
  });
});

describe('callbacks (Patroni CallbackExecutor)', () => {
  it("run in the agent's working directory with <action> <role> <scope>, promoted reported as primary; unset ones do nothing", async () => {
    const dir = mkdtempSync(join(tmp, 'cb-'));
    writeFileSync(join(dir, 'cb.sh'), 'echo "$@ $(pwd)" >> "$OUT"\n');
    const out = join(dir, 'out');
    process.env.OUT = out;
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = new CallbackRunner(() => ({ on_start: 'sh cb.sh', on_role_change: 'sh cb.sh' }), 'demo', silentLogger);
      r.call('on_start', 'replica');
      await new Promise((res) => setTimeout(res, 500));
      r.call('on_role_change', 'promoted');
      r.call('on_stop', 'primary');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (readFileSync(out, { flag: 'a+' }).toString().match(/\n/g) ?? []).length < 2) await new Promise((res) => setTimeout(res, 50));
      expect(readFileSync(out, 'utf8')).toBe(`on_start replica demo ${dir}\non_role_change primary demo ${dir}\n`);
    } finally {
      process.chdir(cwd);
      delete process.env.OUT;
    }
  });
});
