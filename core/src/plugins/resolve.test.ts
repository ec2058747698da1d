import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageEntry, readPackage } from './resolve.js';

const root = mkdtempSync(join(tmpdir(), 'pgha-resolve-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function pkgDir(packageJson: string): string {
  const dir = join(root, `p${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), packageJson);
  return dir;
}

describe('readPackage', () => {
  it('reads name, version and the whole package.json', () => {
    const dir = pkgDir(JSON.stringify({ name: 'pgha-plugin-x', version: '1.2.3', pgha: { configKey: 'x' } }));
    expect(readPackage(dir)).toEqual({ name: 'pgha-plugin-x', version: '1.2.3', dir, json: { name: 'pgha-plugin-x', version: '1.2.3', pgha: { configKey: 'x' } } });
  });

  it('defaults a missing name and version', () => {
    const dir = pkgDir('{}');
    expect(readPackage(dir)).toMatchObject({ name: '', version: '0.0.0' });
  });

  for (const text of ['null', '[1, 2]', '"text"', '7', '{ not json', '']) {
    it(`reads no package from a package.json that is not an object (${JSON.stringify(text)})`, () => {
      expect(readPackage(pkgDir(text))).toBeNull();
    });
  }

  it('reads no package from a directory without package.json', () => {
    expect(readPackage(join(root, 'absent'))).toBeNull();
  });
});

describe('packageEntry', () => {
  const entry = (json: Record<string, unknown>) => packageEntry({ name: 'p', version: '1.0.0', dir: '/pkg', json });

  it('follows exports["."] in its string, conditional and nested forms', () => {
    expect(entry({ exports: './dist/a.js' })).toBe('/pkg/dist/a.js');
    expect(entry({ exports: { '.': './dist/b.js' } })).toBe('/pkg/dist/b.js');
    expect(entry({ exports: { '.': { import: './dist/c.mjs', default: './dist/c.cjs' } } })).toBe('/pkg/dist/c.mjs');
    expect(entry({ exports: { '.': { types: './x.d.ts', default: './dist/d.js' } } })).toBe('/pkg/dist/d.js');
    expect(entry({ exports: { '.': { import: { types: './x.d.ts', default: './dist/e.js' } } } })).toBe('/pkg/dist/e.js');
    expect(entry({ exports: { import: './dist/f.js' } })).toBe('/pkg/dist/f.js');
  });

  it('falls back to main, then index.js', () => {
    expect(entry({ main: 'lib/main.js' })).toBe('/pkg/lib/main.js');
    expect(entry({})).toBe('/pkg/index.js');
    expect(entry({ exports: ['./x.js'], main: 'm.js' })).toBe('/pkg/m.js');
  });
});
