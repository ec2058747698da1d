import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataDirectoryEmpty } from './datadir.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('dataDirectoryEmpty', () => {
  it('missing, empty, or only lost+found and dot files: empty; PG_VERSION or any other file: not', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-dd-'));
    dirs.push(root);
    const d = join(root, 'data');
    expect(dataDirectoryEmpty(d)).toBe(true);
    mkdirSync(join(d, 'lost+found'), { recursive: true });
    writeFileSync(join(d, '.keep'), '');
    expect(dataDirectoryEmpty(d)).toBe(true);
    writeFileSync(join(d, 'PG_VERSION'), '15\n');
    expect(dataDirectoryEmpty(d)).toBe(false);
    rmSync(join(d, 'PG_VERSION'));
    writeFileSync(join(d, 'postgresql.conf'), '');
    expect(dataDirectoryEmpty(d)).toBe(false);
  });
});
