/**
 * `pgha plugin init` output builds and passes its own tests unchanged: for each kind, init into a
 * temporary directory, install @pgha/plugin-api and @pgha/core from `npm pack` tarballs (not
 * workspace links), `npm run build`, `npm test` (pgha's conformance kit for that kind).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPlugin } from '../../cli/src/commands/plugin-init.js';
import { requirePostgresBinaries } from '../helpers/cluster.js';
import { REPO, installTarballs, packWorkspaces } from './packs.js';

const CLI = join(REPO, 'cli/bin/pgha.js');

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('pgha plugin init', () => {
  let root = '';
  let tarballs: string[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'pgha-plugin-init-'));
    mkdirSync(join(root, 'packs'));
    tarballs = packWorkspaces(join(root, 'packs'), ['@pgha/plugin-api', '@pgha/core']);
  }, 120_000);

  afterAll(() => { if (root && !process.env.PGHA_KEEP_TEST_DIRS) rmSync(root, { recursive: true, force: true }); });

  it.each([
    ['dcs', 'my-store', 14],
    ['replica', 'fastclone', 4],
  ] as const)('--kind %s writes a package that builds and passes its conformance test unchanged', (kind, name, tests) => {
    if (kind === 'replica') requirePostgresBinaries();
    const init = run(process.execPath, [CLI, 'plugin', 'init', name, '--kind', kind], root);
    expect(init.status, init.out).toBe(0);
    const dir = join(root, `pgha-plugin-${name}`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(pkg.peerDependencies).toEqual({ '@pgha/plugin-api': '^1.1.0' });
    expect(pkg.pgha).toEqual({ kind, name, configKey: name });
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toContain("apiVersion: '1.1'");
    const before = readFileSync(join(dir, 'package.json'), 'utf8');
    // --no-save: the tarballs stand in for the registry; the generated package.json stays as written.
    installTarballs(dir, tarballs, ['--no-save']);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(before);
    const build = run('npm', ['run', 'build'], dir);
    expect(build.status, build.out).toBe(0);
    const test = run('npm', ['test'], dir);
    expect(test.status, test.out).toBe(0);
    expect(test.out.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(new RegExp(`Tests\\s+${tests} passed \\(${tests}\\)`));
  }, 400_000);

  it('refuses a bad name, an unknown kind and a non-empty directory, naming the problem', () => {
    expect(() => initPlugin({ name: 'My Store', kind: 'dcs', cwd: root })).toThrow('plugin name "My Store": use lower-case letters');
    expect(() => initPlugin({ name: 'x', kind: 'queue' as never, cwd: root })).toThrow('--kind must be dcs or replica, not "queue"');
    const dir = join(root, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    expect(() => initPlugin({ name: 'x', kind: 'dcs', dir, cwd: root })).toThrow(`${dir} exists and is not empty`);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
  });
});
