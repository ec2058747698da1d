/** Issue 22 defects 5/6: the network-free checks `run` makes, and the reload plan. */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostPortProblem, staticConfigIssues } from './checks.js';
import type { LoadedConfig } from './index.js';
import { planReload } from './reload.js';

const BIN = '/usr/lib/postgresql/15/bin';
const base = (over: Record<string, unknown> = {}) => ({
  name: 'n', scope: 's', restapi: { listen: '127.0.0.1:8008' }, etcd3: { hosts: '127.0.0.1:2379' },
  postgresql: { listen: '127.0.0.1:5432', data_dir: join(mkdtempSync(join(tmpdir(), 'pgha-chk-')), 'data'), bin_dir: BIN },
  ...over,
});
const paths = (c: Record<string, unknown>) => staticConfigIssues(c).map((i) => `${i.path}: ${i.message}`);

describe('staticConfigIssues', () => {
  it('accepts a working configuration', () => {
    expect(paths(base())).toEqual([]);
    expect(paths(base({ restapi: { listen: ':8008' }, postgresql: { ...base().postgresql as object, listen: '127.0.0.1,::1:5432' } }))).toEqual([]);
  });

  it('refuses ports out of range or 0, and addresses without a port', () => {
    for (const listen of ['127.0.0.1:70000', '127.0.0.1:0', '127.0.0.1', '127.0.0.1:-1', 'a b:80', '127.0.0.1:80x']) {
      expect(hostPortProblem(listen, { portRequired: true }), listen).not.toBeNull();
      expect(paths(base({ restapi: { listen } }))[0]).toMatch(/^restapi\.listen: /);
    }
    expect(paths(base({ postgresql: { ...base().postgresql as object, listen: '127.0.0.1:70000' } }))).toEqual(['postgresql.listen: port 70000 is out of range 1..65535']);
  });

  it('refuses unparseable DCS host lists', () => {
    expect(paths(base({ etcd3: { hosts: 'h1:2379,h2:99999' } }))).toEqual(['etcd3.hosts: port 99999 is out of range 1..65535']);
    expect(paths(base({ etcd3: { hosts: 'http://h:2379' } }))[0]).toMatch(/^etcd3\.hosts: /);
    expect(paths(base({ etcd3: { hosts: ['h:2379', 'h:x'] } }))).toEqual(['etcd3.hosts: port "x" is not a number']);
    expect(paths(base({ etcd3: { hosts: ['h1', '[::1]:2379'] } }))).toEqual([]);
  });

  it('refuses a data_dir that is a file, cannot be created, or holds something else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-chk-'));
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const pg = (data_dir: string) => base({ postgresql: { listen: '127.0.0.1:5432', bin_dir: BIN, data_dir } });
    expect(paths(pg(file))).toEqual([`postgresql.data_dir: ${file} is not a directory`]);
    expect(paths(pg(join(file, 'sub', 'data')))).toEqual([`postgresql.data_dir: ${join(file, 'sub', 'data')} cannot be created: ${file} is not a directory`]);
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'x');
    expect(paths(pg(other))[0]).toContain("doesn't look like a PostgreSQL data directory");
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      expect(paths(pg(join(ro, 'data')))[0]).toContain('is not writable');
    }
  });

  it('refuses REST API TLS files that cannot be read (the API could not bind with them)', () => {
    expect(paths(base({ restapi: { listen: '127.0.0.1:8008', certfile: '/nonexistent/cert.pem', keyfile: '/etc' } }))).toEqual([
      'restapi.certfile: /nonexistent/cert.pem does not exist or is not readable', 'restapi.keyfile: /etc is not a file']);
  });

  it('refuses a bin_dir without the PostgreSQL binaries', () => {
    const empty = mkdtempSync(join(tmpdir(), 'pgha-chk-'));
    expect(paths(base({ postgresql: { ...base().postgresql as object, bin_dir: '/nonexistent/bin' } }))).toEqual(['postgresql.bin_dir: /nonexistent/bin is not a directory']);
    expect(paths(base({ postgresql: { ...base().postgresql as object, bin_dir: empty } }))[0]).toMatch(/^postgresql\.bin_dir: missing or not executable: .*pg_ctl/);
  });
});

const loaded = (config: Record<string, unknown>): LoadedConfig => ({ config: config as LoadedConfig['config'], raw: structuredClone(config), source: 'x', baseDir: '/', warnings: [], consumedEnv: [] });

describe('planReload (defects 4/5: reload semantics as Patroni)', () => {
  it('keeps data_dir, bin_dir and listen of the running agent, reports them, and applies the rest', () => {
    const cur = base();
    const next = base({ restapi: { listen: '127.0.0.1:8009', authentication: { username: 'u', password: 'new' } }, tags: { nofailover: true } });
    (next.postgresql as Record<string, unknown>) = { ...cur.postgresql, data_dir: '/elsewhere', listen: '127.0.0.1:5433' };
    const plan = planReload(loaded(cur), loaded(next));
    expect(plan.ok).toBe(true);
    expect(plan.pendingRestart.map((p) => p.path).sort()).toEqual(['postgresql.data_dir', 'postgresql.listen']);
    expect(plan.local.config.postgresql).toEqual(cur.postgresql);
    expect(plan.local.config.restapi).toEqual(next.restapi);
    expect(plan.local.config.tags).toEqual({ nofailover: true });
    expect(plan.restapiChanged).toBe(true);
  });

  it('refuses invalid values with the reason, keeping the running configuration', () => {
    const cur = loaded(base());
    for (const [over, why] of [[{ restapi: { listen: '127.0.0.1:70000' } }, 'restapi.listen'], [{ restapi: { listen: 'nonsense' } }, 'restapi.listen']] as const) {
      const plan = planReload(cur, loaded(base(over)));
      expect(plan.ok).toBe(false);
      expect(plan.issues[0]!.path).toBe(why);
      expect(plan.local).toBe(cur);
    }
    const badPg = base();
    (badPg.postgresql as Record<string, unknown>).listen = '127.0.0.1:70000';
    expect(planReload(cur, loaded(badPg)).issues).toEqual([{ path: 'postgresql.listen', message: 'port 70000 is out of range 1..65535' }]);
  });
});
