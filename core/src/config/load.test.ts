import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadConfig, readConfig } from './index.js';
import { loadConfigPath, parseYaml } from './load.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pgha-config-'));
}

const minimal = `
scope: demo
name: node1
restapi: {listen: 127.0.0.1:8008}
etcd3: {hosts: 127.0.0.1:2379}
postgresql: {listen: 127.0.0.1:5432, data_dir: /tmp/d}
`;

describe('loading Patroni YAML', () => {
  it('loads a single file', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'patroni.yml'), minimal);
    const loaded = loadConfig({ path: join(dir, 'patroni.yml'), env: {} });
    expect(loaded.config.name).toBe('node1');
    expect(loaded.config.postgresql?.data_dir).toBe('/tmp/d');
    expect(loaded.baseDir).toBe(dir);
  });

  it('merges a directory of *.yml/*.yaml alphabetically, deeply, ignoring other files', () => {
    const dir = tmp();
    writeFileSync(join(dir, '10-base.yml'), minimal);
    writeFileSync(join(dir, '20-override.yaml'), 'name: node2\npostgresql: {parameters: {work_mem: 8MB}}\n');
    writeFileSync(join(dir, '05-first.yml'), 'name: node0\nrestapi: {connect_address: 10.0.0.1:8008}\n');
    writeFileSync(join(dir, 'notes.txt'), 'name: ignored');
    const raw = loadConfigPath(dir);
    expect(raw.name).toBe('node2');
    expect(raw.restapi).toEqual({ connect_address: '10.0.0.1:8008', listen: '127.0.0.1:8008' });
    expect(raw.postgresql).toEqual({ listen: '127.0.0.1:5432', data_dir: '/tmp/d', parameters: { work_mem: '8MB' } });
    expect(readConfig({ path: dir }).baseDir).toBe(dir);
  });

  it('a later file removes a key with null, as Patroni patch_config does', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.yml'), 'tags: {nofailover: true, clonefrom: true}\n');
    writeFileSync(join(dir, 'b.yml'), 'tags: {nofailover: null}\n');
    expect(loadConfigPath(dir).tags).toEqual({ clonefrom: true });
  });

  it('loads the whole document from PATRONI_CONFIGURATION, PGHA_CONFIGURATION winning', () => {
    expect(loadConfig({ env: { PATRONI_CONFIGURATION: minimal } }).config.name).toBe('node1');
    const both = readConfig({ env: { PATRONI_CONFIGURATION: 'name: a', PGHA_CONFIGURATION: 'name: b' } });
    expect(both.raw.name).toBe('b');
    expect(both.source).toBe('PGHA_CONFIGURATION');
    expect(both.consumedEnv).toEqual(expect.arrayContaining(['PGHA_CONFIGURATION', 'PATRONI_CONFIGURATION']));
  });

  it('parses YAML 1.1 booleans as PyYAML does (on/off/yes/no)', () => {
    expect(parseYaml('a: on\nb: off\nc: yes\nd: "on"\ne: n\nf: y\ng: No\n', 't')).toEqual({ a: true, b: false, c: true, d: 'on', e: 'n', f: 'y', g: false });
  });

  it('names the file and line of a YAML syntax error', () => {
    const dir = tmp();
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'scope: demo\nrestapi:\n  listen: [127.0.0.1:8008\nname: x\n');
    try {
      loadConfigPath(file);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error`));
    }
  });

  it('rejects a file that is not a mapping and a path that does not exist', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'list.yml'), '- a\n- b\n');
    expect(() => loadConfigPath(join(dir, 'list.yml'))).toThrow(/does not contain a mapping/);
    expect(() => loadConfigPath(join(dir, 'missing.yml'))).toThrow(/does not exist/);
  });
});
