import { describe, expect, it } from 'vitest';
import { buildCluster } from '@pgha/core';
import { clusterView, formatMembers } from '../../cli/src/ctl/members.js';

function cluster(node2: Record<string, unknown>) {
  return buildCluster([
    { key: 'initialize', version: 1, value: '7268616322854375442' },
    { key: 'leader', version: 3, value: 'node1' },
    { key: 'members/node1', version: 1, value: JSON.stringify({ conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'primary', timeline: 1 }) },
    { key: 'members/node2', version: 1, value: JSON.stringify({ conn_url: 'postgres://127.0.0.1:5433/postgres', api_url: 'http://127.0.0.1:8009/patroni', role: 'uninitialized', ...node2 }) },
  ]);
}

describe('pgha list shows replica creation progress', () => {
  it('`creating replica 42%` in the table and tsv; json and yaml keep the plain state', () => {
    const c = cluster({ state: 'creating replica', progress: { action: 'creating replica', method: 'pgbackrest', percent: 42, elapsed: 12.5 } });
    expect(formatMembers(c, 'demo')).toMatch(/\| node2 +\| 127\.0\.0\.1:5433 \| Replica \| creating replica 42% \|/);
    expect(formatMembers(c, 'demo', { fmt: 'tsv' }).split('\n').find((l) => l.includes('node2'))!.split('\t')).toContain('creating replica 42%');
    const json = JSON.parse(formatMembers(c, 'demo', { fmt: 'json' })) as Array<{ Member: string; State: string }>;
    expect(json.find((m) => m.Member === 'node2')!.State).toBe('creating replica');
    expect(clusterView(c).members.find((m) => m.name === 'node2')).toMatchObject({ state: 'creating replica', progress: 42 });
  });
  it('ignores progress without a usable percent, or hostile values', () => {
    for (const progress of [{ elapsed: 3 }, { percent: 'lots' }, { percent: 1e9 }, { percent: -1 }, { percent: Number.NaN }, 'x', null]) {
      const c = cluster({ state: 'creating replica', progress });
      expect(formatMembers(c, 'demo', { fmt: 'tsv' })).not.toMatch(/%/);
    }
  });
});
