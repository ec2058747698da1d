import { describe, expect, it } from 'vitest';
import { customReplicaArgv, methodWorksWithoutSource } from './custom-method.js';

const ctx = { scope: 'demo', dataDir: '/data/pg' };

describe('custom replica method arguments (Patroni-compatible)', () => {
  it('standard parameters follow the section keys; the password is never on the command line', () => {
    expect(customReplicaArgv('wal_e', { command: 'patroni_wale_restore', no_leader: 1, envdir: '/etc/wal-e', use_iam: 1 }, ctx, 'host=h port=5432 user=rep'))
      .toEqual(['patroni_wale_restore', '--no_leader=1', '--envdir=/etc/wal-e', '--use_iam=1', '--scope=demo', '--role=replica', '--datadir=/data/pg', '--connstring=host=h port=5432 user=rep']);
  });
  it('no_params strips the control keys and adds nothing', () => {
    expect(customReplicaArgv('pgbackrest', { command: '/usr/bin/pgbackrest --stanza=demo --delta restore', keep_data: true, no_params: true }, ctx, 'x'))
      .toEqual(['/usr/bin/pgbackrest', '--stanza=demo', '--delta', 'restore']);
  });
  it('the command defaults to the method name', () => {
    expect(customReplicaArgv('myclone', { no_params: 'on' }, ctx, null)).toEqual(['myclone']);
  });
  it('no_leader / no_master make a method usable without a source, never basebackup', () => {
    expect(methodWorksWithoutSource('x', { no_master: true })).toBe(true);
    expect(methodWorksWithoutSource('x', { no_leader: 'false' })).toBe(false);
    expect(methodWorksWithoutSource('basebackup', { no_leader: true })).toBe(false);
  });
});
