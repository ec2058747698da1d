import { describe, expect, it } from 'vitest';
import { applyConfigChanges, applyYaml, formatConfigForEditing, pgPairs, setPathValue, unifiedDiff } from '../../cli/src/ctl/config-edit.js';

const base = () => ({ ttl: 30, loop_wait: 10, postgresql: { use_pg_rewind: true, parameters: { max_connections: 100, 'pg_stat_statements.max': 500 } } });

describe('edit-config -s / -p', () => {
  it('sets dotted paths with YAML-typed values, creating mappings', () => {
    const c = applyConfigChanges(base(), ['ttl=20', 'synchronous_mode=on', 'standby_cluster.host=10.0.0.5', 'tags= [a, b]']);
    expect(c.ttl).toBe(20);
    expect(c.synchronous_mode).toBe(true); // PyYAML reads `on` as a boolean
    expect(c.standby_cluster).toEqual({ host: '10.0.0.5' });
    expect(c.tags).toEqual(['a', 'b']);
  });

  it('deletes with null (or an empty value) and drops emptied parents', () => {
    const c = applyConfigChanges(base(), ['loop_wait=null', 'postgresql.use_pg_rewind=', 'postgresql.parameters.max_connections=null', 'postgresql.parameters.pg_stat_statements.max=null']);
    expect(c).toEqual({ ttl: 30 });
  });

  it('keeps dots inside GUC names under postgresql.parameters (-p shorthand)', () => {
    const c = applyConfigChanges(base(), pgPairs(['pg_stat_statements.track=all', ' work_mem=8MB']));
    expect(c.postgresql).toEqual({ use_pg_rewind: true, parameters: { max_connections: 100, 'pg_stat_statements.max': 500, 'pg_stat_statements.track': 'all', work_mem: '8MB' } });
  });

  it('leaves the input untouched and rejects pairs without =', () => {
    const b = base();
    applyConfigChanges(b, ['ttl=1']);
    expect(b.ttl).toBe(30);
    expect(() => applyConfigChanges(b, ['ttl'])).toThrow('Invalid parameter setting ttl');
  });

  it('setPathValue replaces a scalar on the way with a mapping', () => {
    const c: Record<string, unknown> = { a: 1 };
    setPathValue(c, ['a', 'b'], 2);
    expect(c).toEqual({ a: { b: 2 } });
  });

  it('--apply merges with Patroni\'s patch_config (null deletes, nested merge)', () => {
    expect(applyYaml(base(), { ttl: 25, loop_wait: null, postgresql: { parameters: { work_mem: '4MB' } } })).toEqual({
      ttl: 25, postgresql: { use_pg_rewind: true, parameters: { max_connections: 100, 'pg_stat_statements.max': 500, work_mem: '4MB' } },
    });
  });
});

describe('edit-config diff', () => {
  it('prints a difflib-style unified diff of the sorted YAML', () => {
    const before = formatConfigForEditing({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
    expect(before).toBe('loop_wait: 10\nretry_timeout: 10\nttl: 30\n');
    const after = formatConfigForEditing({ ttl: 20, loop_wait: 10, retry_timeout: 10 });
    expect(unifiedDiff(before, after)).toBe(['--- ', '+++ ', '@@ -1,3 +1,3 @@', ' loop_wait: 10', ' retry_timeout: 10', '-ttl: 30', '+ttl: 20'].join('\n'));
  });

  it('uses difflib\'s hunk ranges for single lines and insertions into nothing', () => {
    expect(unifiedDiff('a: 1\n', 'a: 2\n')).toBe(['--- ', '+++ ', '@@ -1 +1 @@', '-a: 1', '+a: 2'].join('\n'));
    expect(unifiedDiff('', 'a: 1\n')).toContain('+a: 1');
    expect(unifiedDiff('x: 1\n', 'x: 1\n')).toBe('');
  });

  it('formats nested config as PyYAML block style with lists unindented', () => {
    expect(formatConfigForEditing({ postgresql: { pg_hba: ['host all all 0.0.0.0/0 md5'], parameters: { b: 'on', a: 1 } } }))
      .toBe("postgresql:\n  parameters:\n    a: 1\n    b: 'on'\n  pg_hba:\n  - host all all 0.0.0.0/0 md5\n");
  });
});
