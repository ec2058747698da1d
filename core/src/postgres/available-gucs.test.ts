import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableGucs, knownParameters } from './available-gucs.js';
import { commandLineGucs } from './config-files.js';
import { parsePostgresSettings } from './settings.js';

const POSTGRES = '/usr/lib/postgresql/15/bin/postgres';

describe('parameters validated against the installed PostgreSQL (Patroni: "Removing unexpected parameter")', () => {
  it('reads the names PostgreSQL 15 knows', () => {
    if (!existsSync(POSTGRES)) throw new Error(`${POSTGRES} is missing: apt-get install postgresql-15 (or run scripts/install-deps.sh)`);
    const names = availableGucs(POSTGRES, null)!;
    expect(names.has('shared_buffers')).toBe(true);
    expect(names.has('wal_keep_size')).toBe(true);
    expect(names.has('wal_keep_segments')).toBe(false); // removed in 13
    expect(names.has('vacuum_defer_cleanup_age')).toBe(true); // removed only in 16
    expect(availableGucs('/nonexistent/postgres', null)).toBeNull();
  });

  it('drops unknown names with a warning, keeps extension GUCs and any case', () => {
    const warnings: string[] = [];
    const kept = knownParameters({ shared_buffers: '128MB', Work_Mem: '4MB', wal_keep_segments: 8, 'pg_stat_statements.max': 1000, shared_bufers: '1GB' },
      new Set(['shared_buffers', 'work_mem']), (m) => warnings.push(m));
    expect(kept).toEqual({ shared_buffers: '128MB', Work_Mem: '4MB', 'pg_stat_statements.max': 1000 });
    expect(warnings).toEqual([
      'Removing unexpected parameter=wal_keep_segments value=8 from the config',
      'Removing unexpected parameter=shared_bufers value=1GB from the config',
    ]);
    expect(knownParameters({ anything: 1 }, null, () => undefined)).toEqual({ anything: 1 });
  });

  it('wal_keep_segments becomes wal_keep_size (16MB a segment) unless that is set', () => {
    const gucs = (parameters: Record<string, unknown>) => commandLineGucs(parsePostgresSettings({ listen: '127.0.0.1:5432', data_dir: '/d', parameters }), 's');
    expect(gucs({ wal_keep_segments: 64 }).wal_keep_size).toBe('1024MB');
    expect(gucs({ wal_keep_segments: 64, wal_keep_size: '2GB' }).wal_keep_size).toBe('2GB');
    expect(gucs({}).wal_keep_size).toBe('128MB');
    expect(gucs({ wal_keep_segments: 64 }).wal_keep_segments).toBeUndefined();
  });
});
