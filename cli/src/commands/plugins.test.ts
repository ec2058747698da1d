import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { PluginHost } from '@pgha/core';
import { pluginsReport } from './plugins.js';

const repo = join(fileURLToPath(import.meta.url), '../../../..');
const cli = join(repo, 'cli/bin/pgha.js');

/** A DCS plugin manifest whose section schema wants `hosts` to be a string; create() must never run. */
function manifestSource(name: string, apiVersion = 1): string {
  return `export default {
  kind: 'dcs', name: '${name}', apiVersion: ${apiVersion}, configKey: '${name}',
  configSchema: { '~standard': { version: 1, vendor: 'test', validate: (v) => typeof v.hosts === 'string'
    ? { value: v } : { issues: [{ message: 'expected string', path: ['hosts'] }] } } },
  create() { throw new Error('create must not be called by checks'); },
};\n`;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pgha-plugins-'));
}

/** `<root>/node_modules/<pkg>` with a package.json and an index.js manifest. */
function installFake(root: string, pkg: string, name: string, apiVersion = 1): void {
  const dir = join(root, 'node_modules', pkg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: pkg, version: '1.2.3', type: 'module', main: 'index.js', pgha: { kind: 'dcs', name } }));
  writeFileSync(join(dir, 'index.js'), manifestSource(name, apiVersion));
}

describe('PluginHost.checkDcs', () => {
  it('a kubernetes section fails with the npm command when the package is absent from the search roots', async () => {
    const check = await new PluginHost({ config: { kubernetes: { namespace: 'default' } }, searchRoots: [tmp()] }).checkDcs();
    expect(check.selected).toBeNull();
    expect(check.error).toContain('Can not find suitable configuration of distributed configuration store');
    expect(check.error).toContain('kubernetes: plugin @pgha/dcs-kubernetes is not installed: npm i @pgha/dcs-kubernetes');
  });

  it('a consul section selects the installed @pgha/dcs-consul', async () => {
    const check = await new PluginHost({ config: { consul: { host: '127.0.0.1:8500' } } }).checkDcs();
    expect(check).toMatchObject({ selected: 'consul', error: null });
  });

  it('an etcd3 section fails with `npm i @pgha/dcs-etcd3` when the package is absent from the search roots', async () => {
    const check = await new PluginHost({ config: { etcd3: { hosts: '127.0.0.1:2379' } }, searchRoots: [tmp()] }).checkDcs();
    expect(check.sections).toEqual([{ section: 'etcd3', ok: false, source: '@pgha/dcs-etcd3', message: expect.stringContaining('npm i @pgha/dcs-etcd3') }]);
    expect(check.error).toContain('npm i @pgha/dcs-etcd3');
  });

  it('discovers a third-party pgha-plugin-foo package and validates its section without creating a driver', async () => {
    const root = tmp();
    installFake(root, 'pgha-plugin-foo', 'foo');
    const host = new PluginHost({ config: { foo: { hosts: 'h1:1' } }, searchRoots: [root] });
    expect(await host.discover()).toContainEqual(expect.objectContaining({ name: 'foo', source: 'pgha-plugin-foo', version: '1.2.3', origin: 'discovered', installed: true }));
    expect(await host.checkDcs()).toMatchObject({ selected: 'foo', error: null });
    const bad = await new PluginHost({ config: { foo: { hosts: 5 } }, searchRoots: [root] }).checkDcs();
    expect(bad.error).toContain('foo: foo.hosts: expected string');
  });

  it('refuses a plugin for another major plugin API, naming it, its apiVersion and the supported range', async () => {
    const root = tmp();
    installFake(root, 'pgha-plugin-bar', 'bar', 2);
    const check = await new PluginHost({ config: { bar: { hosts: 'x' } }, searchRoots: [root] }).checkDcs();
    expect(check.error).toContain('bar: plugin pgha-plugin-bar needs plugin API 2.0, which this pgha does not support (it supports plugin API 1.0–1.1)');
  });

  it('loads a `plugins:` entry given as a path relative to the config file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'my-dcs.js'), manifestSource('mydcs'));
    const host = new PluginHost({ config: { plugins: ['./my-dcs.js'], mydcs: { hosts: 'a' } }, baseDir: dir, searchRoots: [dir] });
    expect(await host.discover()).toContainEqual(expect.objectContaining({ name: 'mydcs', source: './my-dcs.js', origin: 'config' }));
    expect((await host.checkDcs()).selected).toBe('mydcs');
  });
});

describe('pgha plugins (built CLI)', () => {
  // Type errors elsewhere in the shared tree must not block these tests: tsc -b still emits (TS >= 5.6).
  beforeAll(() => {
    spawnSync('npx', ['tsc', '-b'], { cwd: repo, stdio: 'pipe' });
  }, 300_000);

  const run = (args: string[], cwd = repo) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH } });

  it('lists built-ins with their install state and discovered plugins from the working directory', () => {
    const root = tmp();
    installFake(root, 'pgha-plugin-foo', 'foo');
    const r = run(['plugins'], root);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^KIND\s+NAME\s+PACKAGE\s+VERSION\s+ORIGIN\s+STATUS/);
    expect(r.stdout).toMatch(/dcs\s+kubernetes\s+@pgha\/dcs-kubernetes\s+0\.1\.0\s+builtin\s+installed/);
    expect(r.stdout).toMatch(/dcs\s+consul\s+@pgha\/dcs-consul\s+0\.1\.0\s+builtin\s+installed/);
    expect(r.stdout).toMatch(/dcs\s+foo\s+pgha-plugin-foo\s+1\.2\.3\s+discovered\s+installed/);
  });

  it('exits 1 with the advice when the config names a DCS pgha has no plugin for (etcd v2)', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'etcd2.yml'), 'scope: demo\netcd:\n  host: 127.0.0.1:2379\n');
    const r = run(['plugins', '-c', join(dir, 'etcd2.yml')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the etcd v2 API is not supported; rename the section to etcd3 (same keys) and install @pgha/dcs-etcd3');
    const global = run(['-c', join(dir, 'etcd2.yml'), 'plugins']);
    expect(global.status).toBe(1);
  });

  it('the report helper checks a config through the same path', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'zk.yml'), 'zookeeper:\n  hosts: [127.0.0.1:2181]\n');
    const r = await pluginsReport(join(dir, 'zk.yml'), { env: {}, searchRoots: [dir] });
    expect(r.ok).toBe(false);
    expect(r.err.join('\n')).toContain('npm i @pgha/dcs-zookeeper');
  });
});
