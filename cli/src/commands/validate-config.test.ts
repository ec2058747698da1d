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
});
