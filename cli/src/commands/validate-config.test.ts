import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repo = join(fileURLToPath(import.meta.url), '../../../..');
const cli = join(repo, 'cli/bin/pgha.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

describe('pgha validate-config (built CLI)', () => {
  // Type errors elsewhere in the shared tree must not block these tests: tsc -b still emits (TS >= 5.6).
  beforeAll(() => {
    spawnSync('npx', ['tsc', '-b'], { cwd: repo, stdio: 'pipe' });
  }, 300_000);

  it('exits 0 for the full Patroni example and the 3-node examples', () => {
    for (const file of ['examples/patroni-full.yml', 'examples/etcd3/node1.yml', 'examples/etcd3/node2.yml', 'examples/etcd3/node3.yml']) {
      const r = run(['validate-config', file]);
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe('configuration is valid');
    }
  });

  it('exits 1 for the broken example, printing each issue with its key path', () => {
    const r = run(['validate-config', 'examples/broken.yml']);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      'postgresql.authentication.replication.username: expected string',
      'restapi.verify_client: expected one of "none", "optional", "required"',
      'bootstrap.dcs.ttl: expected number',
      'postgresql.data_dir: required',
      'watchdog.mode: expected one of "off", "automatic", "required"',
    ]));
    expect(r.stdout).not.toContain('configuration is valid');
  });

  it('prints timing warnings like Patroni and still exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-validate-'));
    const file = join(dir, 'p.yml');
    writeFileSync(file, 'scope: s\nname: n\nrestapi: {listen: ":8008"}\netcd3: {hosts: "127.0.0.1:2379"}\n'
      + 'postgresql: {listen: ":5432", data_dir: /d}\nbootstrap: {dcs: {ttl: 30, loop_wait: 15, retry_timeout: 10}}\n');
    const r = run(['validate-config', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('WARNING: bootstrap.dcs: Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=30 and retry_timeout=10. Adjusting loop_wait from 15 to 10');
  });

  it('applies the PATRONI_ environment, reports YAML syntax errors by file and line, and a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-validate-'));
    const file = join(dir, 'partial.yml');
    writeFileSync(file, 'scope: s\nrestapi: {listen: ":8008"}\netcd3: {hosts: "127.0.0.1:2379"}\npostgresql: {listen: ":5432"}\n');
    expect(run(['validate-config', file]).status).toBe(1);
    expect(run(['validate-config', file], { PATRONI_NAME: 'n1', PGHA_POSTGRESQL_DATA_DIR: '/d' }).status).toBe(0);
    expect(run(['validate-config', '--ctl', file]).status).toBe(0);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'scope: s\nrestapi:\n  listen: [x\n');
    const r = run(['validate-config', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error`));
    const missing = run(['validate-config', join(dir, 'nope.yml')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('does not exist');
  });

  // Issue 22 defect 6: validate-config said "valid" where run fails or could never work, and run
  // retried every 2 s forever. Both now refuse the same configurations with the same reason.
  it('agrees with `pgha run`: both refuse what cannot work, run exits 1 with the reason instead of retrying', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-validate-'));
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    const good = { restapi: '{listen: "127.0.0.1:18008"}', pg: `{listen: "127.0.0.1:15432", data_dir: ${join(dir, 'data')}, bin_dir: /usr/lib/postgresql/15/bin}`, dcs: 'etcd3: {hosts: "127.0.0.1:1"}' };
    const cases: Array<[string, Partial<typeof good>, RegExp]> = [
      ['restapi port out of range', { restapi: '{listen: "127.0.0.1:70000"}' }, /restapi\.listen: port 70000 is out of range/],
      ['restapi port 0', { restapi: '{listen: "127.0.0.1:0"}' }, /restapi\.listen: port 0 is out of range/],
      ['postgresql port out of range', { pg: `{listen: "127.0.0.1:99999", data_dir: ${join(dir, 'd2')}}` }, /postgresql\.listen: port 99999/],
      ['no DCS section', { dcs: '' }, /Can not find suitable configuration of distributed configuration store/],
      ['missing bin_dir', { pg: `{listen: "127.0.0.1:15432", data_dir: ${join(dir, 'd3')}, bin_dir: /nonexistent/bin}` }, /postgresql\.bin_dir: \/nonexistent\/bin is not a directory/],
      ['data_dir is a file', { pg: `{listen: "127.0.0.1:15432", data_dir: ${file}}` }, /postgresql\.data_dir: .* is not a directory/],
      ['data_dir cannot be created', { pg: `{listen: "127.0.0.1:15432", data_dir: ${join(file, 'sub')}}` }, /postgresql\.data_dir: .* cannot be created/],
      ['unparseable etcd3.hosts', { dcs: 'etcd3: {hosts: "127.0.0.1:2379:x, :"}' }, /etcd3\.hosts: /],
      ['member name with a path', { restapi: '{listen: "127.0.0.1:18008"}\nname: "evil/../../x"' }, /name: must not contain '\/'/],
      ['member name with a newline', { restapi: '{listen: "127.0.0.1:18008"}\nname: "a\\nb"' }, /name: must not contain control characters/],
    ];
    for (const [what, over, reason] of cases) {
      const c = { ...good, ...over };
      const path = join(dir, `${what.replace(/\W+/g, '-')}.yml`);
      writeFileSync(path, `scope: s\nname: n\nrestapi: ${c.restapi}\n${c.dcs}\npostgresql: ${c.pg}\n`);
      const v = run(['validate-config', path]);
      expect(v.status, `${what}: ${v.stdout}`).toBe(1);
      expect(v.stderr, what).toMatch(reason);
      const started = Date.now();
      const r = spawnSync(process.execPath, [cli, 'run', path], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
      expect(r.status, `${what}: run ${r.signal ?? ''} ${r.stderr}`).toBe(1);
      expect(r.stdout + r.stderr, what).toMatch(reason);
      expect(Date.now() - started, what).toBeLessThan(30_000);
    }
  }, 300_000);
  it('lists every key of the complete Patroni 4.1 example that pgha does not act on, one per line', () => {
    const r = run(['validate-config', 'examples/patroni-full.yml']);
    expect(r.status).toBe(0);
    const out = r.stdout.trim().split('\n');
    const at = out.indexOf('WARNING: pgha does not act on these keys (yet); they are ignored:');
    expect(at).toBeGreaterThan(0);
    expect(out.slice(at + 1)).toEqual(['  citus']);
    expect(r.stdout).not.toContain('they are ignored: citus');
  });
});
