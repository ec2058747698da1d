import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Member } from '../model/member.js';
import { commandLineGucs, ConfigFiles, formatDsn, quoteGuc, writePgpass } from './config-files.js';
import { shlexSplit } from './exec.js';
import { standbyRecovery } from './recovery.js';
import { exportKrbsrvname, parsePostgresSettings } from './settings.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pgha-conf-'));
  dirs.push(d);
  return d;
}

describe('configuration files', () => {
  it('keeps the user postgresql.conf as postgresql.base.conf, includes it and never writes command-line GUCs', () => {
    const d = tmp();
    writeFileSync(join(d, 'postgresql.conf'), "shared_buffers = '1GB'\n");
    const s = parsePostgresSettings({ data_dir: d, listen: '127.0.0.1:6543', parameters: { max_connections: 200, work_mem: '8MB', wal_level: 'logical', restore_command: 'x' } });
    const files = new ConfigFiles(s, null);
    files.writePostgresqlConf({ kind: 'none' });
    files.writePostgresqlConf({ kind: 'none' }); // a second write must not replace the base conf with ours
    expect(readFileSync(join(d, 'postgresql.base.conf'), 'utf8')).toBe("shared_buffers = '1GB'\n");
    const conf = readFileSync(join(d, 'postgresql.conf'), 'utf8');
    expect(conf).toContain("include 'postgresql.base.conf'");
    expect(conf).toContain("work_mem = '8MB'");
    expect(conf).not.toMatch(/max_connections|wal_level|listen_addresses|port|restore_command/);
    expect(statSync(join(d, 'postgresql.conf')).mode & 0o777).toBe(0o600);
    expect(commandLineGucs(s, 'scope1')).toMatchObject({
      listen_addresses: '127.0.0.1', port: '6543', cluster_name: 'scope1', max_connections: '200', wal_level: 'logical',
      hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: '10', max_replication_slots: '10',
    });
  });

  it('krbsrvname reaches primary_conninfo and pg_rewind\'s connection, and PGKRBSRVNAME for the tools (as Patroni)', () => {
    const s = parsePostgresSettings({ data_dir: tmp(), krbsrvname: 'pgkrb', authentication: { replication: { username: 'rep' } } });
    const leader = Member.fromNode(1, 'leader', null, { conn_url: 'postgres://10.0.0.1:5433/postgres' });
    const r = standbyRecovery(s, 'node-1', leader);
    expect(r.kind === 'standby' && r.params.primary_conninfo).toBe('host=10.0.0.1 port=5433 krbsrvname=pgkrb user=rep application_name=node-1');
    expect(s.rewind.extra).toEqual({ krbsrvname: 'pgkrb' });
    const env: NodeJS.ProcessEnv = {};
    exportKrbsrvname(s, env);
    expect(env.PGKRBSRVNAME).toBe('pgkrb');
    const none = parsePostgresSettings({ data_dir: tmp() });
    exportKrbsrvname(none, env);
    expect(none.replication.extra).toEqual({});
    expect(env.PGKRBSRVNAME).toBe('pgkrb');
  });

  it('writes standby settings with standby.signal, and recovery.signal for targeted recovery', () => {
    const d = tmp();
    const s = parsePostgresSettings({
      data_dir: d, custom_conf: '/etc/pg/custom.conf', recovery_conf: { restore_command: 'cp /a/%f %p' },
      authentication: { replication: { username: 'rep', password: "it's" } },
    });
    const files = new ConfigFiles(s, null);
    const leader = Member.fromNode(1, 'leader', null, { conn_url: 'postgres://10.0.0.1:5433/postgres' });
    files.writePostgresqlConf(standbyRecovery(s, 'node-1', leader));
    const conf = readFileSync(join(d, 'postgresql.conf'), 'utf8');
    expect(conf).toContain("include '/etc/pg/custom.conf'");
    expect(conf).toContain("primary_conninfo = 'host=10.0.0.1 port=5433 password=''it\\\\''s'' user=rep application_name=node-1'");
    expect(conf).toContain("primary_slot_name = 'node_1'");
    expect(conf).toContain("restore_command = 'cp /a/%f %p'");
    expect(existsSync(join(d, 'standby.signal'))).toBe(true);
    files.writePostgresqlConf({ kind: 'recovery', params: { recovery_target_name: 't' } });
    expect(existsSync(join(d, 'standby.signal'))).toBe(false);
    expect(existsSync(join(d, 'recovery.signal'))).toBe(true);
    files.writePostgresqlConf({ kind: 'keep' });
    expect(existsSync(join(d, 'recovery.signal'))).toBe(true);
    files.writePostgresqlConf({ kind: 'none' });
    expect(existsSync(join(d, 'recovery.signal'))).toBe(false);
  });

  it('quotes GUCs, DSNs and pgpass entries', () => {
    expect(quoteGuc("a'b\\c")).toBe("'a''b\\\\c'");
    expect(quoteGuc(true)).toBe('on');
    expect(formatDsn({ host: 'h', port: 5432, password: "a b'c", user: null, dbname: '' })).toBe("host=h port=5432 password='a b\\'c' dbname=''");
    const d = tmp();
    writePgpass(join(d, 'pgpass'), [{ host: 'h', port: 5432, user: 'u', password: 'p:w\\x' }, { host: '*', port: '*', user: 'x', password: null }], null);
    expect(readFileSync(join(d, 'pgpass'), 'utf8')).toBe('h:5432:*:u:p\\:w\\\\x\n');
  });

  it('splits commands like a shell', () => {
    expect(shlexSplit(`/bin/tool --a="x y" 'q"z' b\\ c`)).toEqual(['/bin/tool', '--a=x y', 'q"z', 'b c']);
    expect(() => shlexSplit('"open')).toThrow(/No closing quotation/);
  });
});
