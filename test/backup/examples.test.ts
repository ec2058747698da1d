/** The backup examples stay valid: pgha's validate-config accepts them and each replica section passes its plugin's schema. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateWith } from '@pgha/core';
import { pgbackrestSection } from '@pgha/replica-pgbackrest';
import { barmanSection } from '@pgha/replica-barman';
import { CLI } from '../helpers/cluster.js';

const repo = join(import.meta.dirname, '../..');
const files = ['pgbackrest/node1.yml', 'pgbackrest/node2.yml', 'pgbackrest/node3.yml', 'barman/node1.yml', 'barman/node2.yml', 'barman/node3.yml'];

describe('backup examples', () => {
  it.each(files)('examples/%s is valid, and so is its replica method section', async (file) => {
    const path = join(repo, 'examples', file);
    const r = spawnSync(process.execPath, [CLI, 'validate-config', path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const cfg = parse(readFileSync(path, 'utf8')) as { postgresql: Record<string, unknown> };
    const [method] = cfg.postgresql.create_replica_methods as string[];
    const schema = method === 'pgbackrest' ? pgbackrestSection : barmanSection;
    const v = await validateWith(schema, cfg.postgresql[method!], `postgresql.${method}`);
    expect(v.ok, JSON.stringify(v)).toBe(true);
  });
});
