import { describe, expect, it } from 'vitest';
import { CustomScriptReplicaMethod, silentLogger, validateWith, type ReplicaMethodContext } from '@pgha/core';
import plugin, { PgBackRestMethod, pgbackrestSection, restoreArgv } from './index.js';

const ctx: ReplicaMethodContext = {
  scope: 'demo', name: 'node2', dataDir: '/data/pg', binDir: '/usr/lib/postgresql/15/bin', bin: (t) => t, runAs: null, wipeDataDir: () => {}, logger: silentLogger,
};

describe('pgbackrest replica plugin', () => {
  it('is a replica plugin named pgbackrest', () => {
    expect(plugin).toMatchObject({ kind: 'replica', name: 'pgbackrest', configKey: 'pgbackrest', apiVersion: '1.0' });
  });

  it('builds the restore: stanza defaults to the scope, --type=standby, --delta only over an existing cluster, extra keys as options', () => {
    expect(restoreArgv({}, 'demo', '/d', false)).toEqual({ argv: ['pgbackrest', '--stanza=demo', '--pg1-path=/d', '--type=standby', 'restore'], delta: false });
    expect(restoreArgv({ config: '/etc/pgbr.conf', stanza: 'main', 'process-max': 4, 'archive-check': false, 'db-include': ['a', 'b'], 'link-all': true }, 'demo', '/d', true).argv).toEqual([
      'pgbackrest', '--config=/etc/pgbr.conf', '--stanza=main', '--pg1-path=/d', '--type=standby', '--delta',
      '--process-max=4', '--no-archive-check', '--db-include=a', '--db-include=b', '--link-all', 'restore',
    ]);
    expect(restoreArgv({ delta: false, type: 'preserve' }, 'demo', '/d', true).argv).toEqual(['pgbackrest', '--stanza=demo', '--pg1-path=/d', '--type=preserve', 'restore']);
    // Control keys are never passed to pgBackRest.
    expect(restoreArgv({ keep_data: true, no_leader: 'on' }, 'demo', '/d', false).argv).not.toContain('--keep_data');
  });

  it('validates the section; errors name the key', async () => {
    const paths = async (v: unknown) => {
      const r = await validateWith(pgbackrestSection, v, 'postgresql.pgbackrest');
      return r.ok ? [] : r.issues.map((i) => i.path).sort();
    };
    expect(await paths({ 'Bad Key': 1, 'pg1-path': '/x', restore: true })).toEqual(['postgresql.pgbackrest.Bad Key', 'postgresql.pgbackrest.pg1-path', 'postgresql.pgbackrest.restore']);
    expect(await paths({ type: 'time', stanza: '' })).toEqual(['postgresql.pgbackrest.stanza', 'postgresql.pgbackrest.type']);
    expect((await validateWith(pgbackrestSection, { nested: { a: 1 } }, 'p')).ok).toBe(false);
    // Patroni's form: anything goes beside a command (passed as --key=value, as Patroni does).
    expect((await validateWith(pgbackrestSection, { command: '/usr/bin/pgbackrest --stanza=demo --delta restore', keep_data: 'True', no_params: true, 'Odd Key': 'x' }, 'p')).ok).toBe(true);
  });

  it("Patroni's form is the custom-script method with Patroni's flags; pgha's form keeps data by default", async () => {
    const patroni = await plugin.create({ ...ctx, services: {} } as never, { command: '/usr/bin/pgbackrest --stanza=demo --delta restore', keep_data: true, no_params: true, no_leader: 1 });
    expect(patroni).toBeInstanceOf(CustomScriptReplicaMethod);
    expect(patroni).toMatchObject({ name: 'pgbackrest', keepData: true, noLeader: true });
    const own = await plugin.create({ ...ctx, services: {} } as never, {});
    expect(own).toBeInstanceOf(PgBackRestMethod);
    expect(own).toMatchObject({ keepData: true, noLeader: false });
    expect(await plugin.create({ ...ctx, services: {} } as never, { keep_data: 'off', no_leader: 'true' })).toMatchObject({ keepData: false, noLeader: true });
  });
});
