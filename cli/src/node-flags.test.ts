import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchOf } from './node-flags.js';

const file = (first: string) => {
  const p = join(mkdtempSync(join(tmpdir(), 'pgha-launch-')), 'bin.js');
  writeFileSync(p, `${first}\nconsole.log(1);\n`);
  return p;
};

describe('launchOf', () => {
  it('reads the environment and the Node flags of an env -S line', () => {
    expect(launchOf(file('#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --single-threaded-gc --max-semi-space-size=1')))
      .toEqual({ env: { MALLOC_ARENA_MAX: '1' }, flags: ['--single-threaded-gc', '--max-semi-space-size=1'] });
  });
  it('asks for nothing on a plain node line, a missing file or no shebang', () => {
    expect(launchOf(file('#!/usr/bin/env node'))).toEqual({ env: {}, flags: [] });
    expect(launchOf(file('console.log(0);'))).toEqual({ env: {}, flags: [] });
    expect(launchOf('/nonexistent/pgha.js')).toEqual({ env: {}, flags: [] });
  });
  it("reads this package's own command file: what the agent runs with", () => {
    const own = launchOf(new URL('../bin/pgha.js', import.meta.url).pathname);
    expect(own.flags).toEqual(['--single-threaded-gc', '--optimize-for-size', '--no-opt', '--always-sparkplug']);
    expect(own.env).toEqual({ MALLOC_ARENA_MAX: '1' });
  });
});
