import { describe, expect, it } from 'vitest';
import plugin, { basebackupArgs } from './index.js';

describe('basebackup plugin', () => {
  it('builds pg_basebackup argv with user options; not-allowed options are reported and skipped', () => {
    const errors: string[] = [];
    const args = basebackupArgs('/data', 'host=h port=5432 user=rep', [{ 'max-rate': '100M' }, 'verbose', { 'wal-method': 'fetch' }, { dbname: 'x' }], (m) => errors.push(m));
    expect(args).toEqual(['--pgdata=/data', '-X', 'stream', '--dbname=host=h port=5432 user=rep', '--max-rate=100M', '--verbose', '--progress']);
    expect(errors).toEqual(['wal-method option for basebackup is not allowed', 'dbname option for basebackup is not allowed']);
    expect(basebackupArgs('/d', 'c', { checkpoint: 'fast' }, () => {})).toEqual(['--pgdata=/d', '-X', 'stream', '--dbname=c', '--checkpoint=fast', '--progress']);
    expect(basebackupArgs('/d', 'c', ['progress'], () => {})).toEqual(['--pgdata=/d', '-X', 'stream', '--dbname=c', '--progress']);
  });
  it('is a replica plugin named basebackup', () => {
    expect(plugin).toMatchObject({ kind: 'replica', name: 'basebackup', configKey: 'basebackup', apiVersion: '1.0' });
  });
});
