/**
 * The replica-method conformance kit can fail: broken methods (fixtures/kit-broken) run through it
 * in a nested vitest, and each fails exactly the checks aimed at its defect.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { requirePostgresBinaries } from '../helpers/cluster.js';
import { REPO } from './packs.js';

interface JsonReport { testResults: Array<{ assertionResults: Array<{ fullName: string; status: string }> }> }

it('a method that lies about success, and one that ignores cancel, fail the checks aimed at them', () => {
  requirePostgresBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'pgha-kit-fails-'));
  try {
    const out = join(dir, 'report.json');
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(REPO, 'test/plugins/fixtures/kit-broken/vitest.config.ts'),
      '--reporter=json', `--outputFile=${out}`], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, 'the broken methods must fail the kit').toBe(1);
    const results = Object.fromEntries((JSON.parse(readFileSync(out, 'utf8')) as JsonReport).testResults
      .flatMap((f) => f.assertionResults).map((a) => [a.fullName.replace('replica method conformance: ', ''), a.status]));
    expect(results).toEqual({
      'liar has a manifest this pgha loads and a config section its schema accepts': 'passed',
      'liar leaves a data directory PostgreSQL starts from, as a standby with the primary\'s data': 'failed',
      'liar reports failure by a non-zero exit status when the source cannot be reached': 'failed',
      'liar on cancel resolves promptly, leaves no child process and no connection to the source': 'failed',
      'deaf has a manifest this pgha loads and a config section its schema accepts': 'passed',
      'deaf leaves a data directory PostgreSQL starts from, as a standby with the primary\'s data': 'passed',
      'deaf reports failure by a non-zero exit status when the source cannot be reached': 'passed',
      'deaf on cancel resolves promptly, leaves no child process and no connection to the source': 'failed',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 360_000);
