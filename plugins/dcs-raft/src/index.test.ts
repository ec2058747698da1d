import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestProblems } from '@pgha/core';
import plugin from './index.js';

describe('@pgha/dcs-raft manifest', () => {
  it('is a valid dcs plugin whose package.json advertises it', () => {
    expect(manifestProblems(plugin)).toEqual([]);
    expect(plugin).toMatchObject({ kind: 'dcs', name: 'raft', apiVersion: '1.0', configKey: 'raft' });
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { pgha: unknown };
    expect(pkg.pgha).toEqual({ kind: 'dcs', name: 'raft', configKey: 'raft' });
  });

  it('validates the raft: section like Patroni names it', async () => {
    const ok = await plugin.configSchema!['~standard'].validate({ self_addr: '127.0.0.1:2222', partner_addrs: ['127.0.0.1:2223'], data_dir: '/tmp/x', password: 'p' });
    expect('value' in ok && ok.value).toMatchObject({ self_addr: '127.0.0.1:2222', partner_addrs: ['127.0.0.1:2223'] });
    const bad = await plugin.configSchema!['~standard'].validate({ self_addr: 'nohostport' });
    expect('issues' in bad && bad.issues?.length).toBeGreaterThan(0);
  });
});
