/**
 * End to end with real agents (`pgha run` on etcd): the leader archives WAL to a pgBackRest
 * repository; a member that joins later with `create_replica_methods: [pgbackrest]` is built from the
 * repository by @pgha/replica-pgbackrest (found by the plugin host from the config alone), logs
 * its progress, joins and streams; its member key carries no stale progress afterwards. A member
 * joining while another is being created shows that one's progress in GET /patroni and `pgha list`;
 * a member with `create_replica_methods: [barman]` is recovered from a Barman backup and streams.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { stopFence, TestCluster, TestNode } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, waitFor } from '../helpers/procs.js';
import { runCtl } from '../ctl/run-ctl.js';
import { testUser } from '../helpers/user.js';
import { cleanupNodes, tempDir } from '../postgres/pg-helpers.js';
import { barmanServer, requireTool, run, type BarmanServer } from './tools.js';

let cluster: TestCluster;
const joiners: TestNode[] = [];
let barman: BarmanServer | null = null;
let conf: string;

beforeAll(async () => {
  requireTool('/usr/bin/pgbackrest', 'pgbackrest');
  const home = tempDir('agent-pgbackrest');
  conf = join(home, 'pgbackrest.conf');
  writeFileSync(conf, [
    '[global]', `repo1-path=${join(home, 'repo')}`, `log-path=${home}`, `lock-path=${join(home, 'lock')}`, `spool-path=${join(home, 'spool')}`,
    'log-level-file=off', 'start-fast=y', 'repo1-retention-full=2', '', '[main]', 'pg1-user=postgres', '',
  ].join('\n'));
  cluster = await TestCluster.start({
    nodes: 1,
    dynamic: {
      // Barman's WAL streaming slot: permanent, so the agent keeps it on the leader instead of dropping it.
      slots: { barman: { type: 'physical' } },
      postgresql: {
        use_pg_rewind: true, use_slots: true,
        parameters: {
          wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10, archive_mode: 'on',
          // One command for every member: the shell gives pgBackRest this member's PGDATA (postgres runs archive_command there).
          archive_command: `pgbackrest --config=${conf} --stanza=main --pg1-path="$PWD" archive-push %p`,
        },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await barman?.stop();
  for (const joiner of joiners) {
    await joiner.stopAgent();
    await stopFence(joiner.dataDir);
    const pid = joiner.postmasterPid();
    if (pid) {
      process.kill(pid, 'SIGQUIT');
      await waitFor(() => !isAlive(pid), 10_000, 'joiner postmaster exits').catch(() => process.kill(pid, 'SIGKILL'));
    }
  }
  await cluster?.stop();
  await cleanupNodes(); // the repository and Barman temp dirs
}, 120_000);

/** A second member with node1's configuration, its own ports and directories, and the given postgresql additions. */
async function addMember(name: string, postgresql: Record<string, unknown>): Promise<TestNode> {
  const first = cluster.nodes[0]!;
  const cfg = parse(readFileSync(first.configPath, 'utf8')) as Record<string, any>;
  const dir = join(cluster.root, name);
  mkdirSync(dir, { recursive: true });
  const [pgPort, apiPort] = [await freePort(), await freePort()];
  cfg.name = name;
  cfg.restapi = { ...cfg.restapi, listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` };
  cfg.postgresql = {
    ...cfg.postgresql, ...postgresql,
    listen: `127.0.0.1:${pgPort}`, connect_address: `127.0.0.1:${pgPort}`, data_dir: join(dir, 'data'), pgpass: join(dir, 'pgpass'),
    parameters: { ...cfg.postgresql.parameters, unix_socket_directories: dir },
  };
  const configPath = join(dir, 'pgha.yml');
  writeFileSync(configPath, stringify(cfg));
  const u = testUser();
  if (u) for (const p of [dir, configPath]) chownSync(p, u.uid, u.gid);
  const node = new TestNode(name, dir, pgPort, apiPort, configPath);
  joiners.push(node);
  node.start();
  return node;
}

describe('pgBackRest replicas in a running cluster', () => {
  it('a member joining with create_replica_methods [pgbackrest] is restored from the repository and streams', async () => {
    const leader = await cluster.waitHealthy(0);
    const pg1 = [`--pg1-path=${leader.dataDir}`, `--pg1-port=${leader.pgPort}`, `--pg1-socket-path=${leader.dir}`];
    await run('pgbackrest', [`--config=${conf}`, '--stanza=main', ...pg1, 'stanza-create']);
    await leader.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('in the backup')");
    await run('pgbackrest', [`--config=${conf}`, '--stanza=main', ...pg1, '--type=full', 'backup']);
    await leader.sql("INSERT INTO t VALUES ('after the backup')");

    const joiner = await addMember('node2', { create_replica_methods: ['pgbackrest'], pgbackrest: { config: conf, stanza: 'main' } });
    await cluster.waitHealthy(1);
    await waitFor(async () => (await joiner.sql<{ c: string }>("SELECT count(*) AS c FROM t")).at(0)?.c === '2', 30_000, 'node2 has both rows');
    const log = joiner.log();
    expect(log).toMatch(/restoring the replica from the pgBackRest repository/);
    expect(log).toMatch(/creating replica \(pgbackrest\) \d+%, [\d.]+ s elapsed/);
    expect(log).toMatch(/creating replica \(pgbackrest\) finished after/);
    expect(log).not.toMatch(/pg_basebackup/);
    // Streaming, and the member key carries no progress once the replica runs.
    const status = await waitFor(async () => {
      const b = (await joiner.get('/patroni')).body;
      return b.state === 'running' && b.replication_state === 'streaming' ? b : null;
    }, 30_000, 'node2 /patroni streaming');
    expect(status.progress).toBeUndefined();
    expect(status).toMatchObject({ role: 'replica', timeline: 1 });
    // Members publish `streaming` with their next member-key write, a cycle after pg_stat_replication shows it.
    await waitFor(async () => ((await leader.get('/cluster')).body.members as Array<{ name: string; state: string }>).find((m) => m.name === 'node2')?.state === 'streaming', 30_000, 'node2 listed as streaming');

    // Reinitialize keeps PGDATA for a keep_data method (as Patroni does): pgBackRest restores with --delta.
    const sysid = (await joiner.get('/patroni')).body.database_system_identifier as string;
    const reinit = await joiner.get('/reinitialize', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect(reinit.status, JSON.stringify(reinit.body)).toBe(200);
    await waitFor(() => /--type=standby --delta restore/.test(joiner.log()), 60_000, 'a --delta restore on reinitialize');
    await waitFor(async () => {
      const b = (await joiner.get('/patroni').catch(() => null))?.body;
      return b?.replication_state === 'streaming' && b.database_system_identifier === sysid;
    }, 60_000, 'node2 streams again after the delta restore');
  }, 180_000);

  it('while a replica is being created, GET /patroni and `pgha list` show its progress', async () => {
    // A replica method that reports 25% the way pg_basebackup --progress does, then takes its time and fails over to basebackup.
    const script = join(cluster.root, 'slow-clone.sh');
    writeFileSync(script, '#!/bin/sh\necho "  1024/4096 kB (25%), 0/1 tablespace"\nsleep 12\nexit 1\n');
    chmodSync(script, 0o755);
    const u = testUser();
    if (u) chownSync(script, u.uid, u.gid);
    const node = await addMember('node3', { create_replica_methods: ['slow', 'basebackup'], slow: { command: script } });
    const doc = await waitFor(async () => {
      const b = (await node.get('/patroni').catch(() => null))?.body;
      return b?.progress?.percent === 25 ? b : null;
    }, 60_000, 'node3 /patroni progress', 200);
    expect(doc).toMatchObject({ state: 'creating replica', progress: { action: 'creating replica', method: 'slow', percent: 25, bytes_done: 1024 * 1024, bytes_total: 4096 * 1024 } });
    expect(doc.progress.elapsed).toBeGreaterThanOrEqual(0);
    // The member key carries it too: `pgha list` shows the percentage next to the state.
    const listed = await waitFor(async () => {
      const r = await runCtl(['-c', cluster.nodes[0]!.configPath, 'list', '-f', 'tsv']);
      return r.stdout.split('\n').find((l) => l.includes('node3') && l.includes('creating replica 25%')) ?? null;
    }, 30_000, 'pgha list shows creating replica 25%', 500);
    expect(listed.split('\t')).toContain('creating replica 25%');
    // JSON keeps Patroni's plain state.
    const json = JSON.parse((await runCtl(['-c', cluster.nodes[0]!.configPath, 'list', '-f', 'json'])).stdout) as Array<{ Member: string; State: string }>;
    expect(json.find((m) => m.Member === 'node3')!.State).not.toMatch(/%/);
    await cluster.waitHealthy(2);
    const after = await waitFor(async () => {
      const b = (await node.get('/patroni')).body;
      return b.replication_state === 'streaming' ? b : null;
    }, 60_000, 'node3 streams after falling back to basebackup');
    expect(after.progress).toBeUndefined();
    expect(node.log()).toMatch(/creating replica \(slow\) failed after/);
  });

  it('a member joining with create_replica_methods [barman] is recovered by barman and streams', async () => {
    const leader = await cluster.waitHealthy(2);
    // Barman streams WAL as the replication user over TCP (the cluster's pg_hba), and reads over the leader's socket.
    barman = await barmanServer({ dir: leader.dir, port: leader.pgPort }, { streamingConninfo: `host=127.0.0.1 port=${leader.pgPort} user=replicator password=rep-secret dbname=replication` });
    await barman.backup();
    await leader.sql("INSERT INTO t VALUES ('after the barman backup')");
    const node = await addMember('node4', { create_replica_methods: ['barman'], barman: { config: barman.config, 'barman-server': 'main' } });
    await cluster.waitHealthy(3);
    await waitFor(async () => (await node.sql<{ c: string }>("SELECT count(*) AS c FROM t WHERE v = 'after the barman backup'")).at(0)?.c === '1', 30_000, 'node4 replays');
    const log = node.log();
    expect(log).toMatch(/recovering the replica with barman/);
    expect(log).toMatch(/creating replica \(barman\) finished after/);
    expect(log).not.toMatch(/pg_basebackup/);
    const status = await waitFor(async () => {
      const b = (await node.get('/patroni')).body;
      return b.replication_state === 'streaming' ? b : null;
    }, 30_000, 'node4 /patroni streaming');
    expect(status).toMatchObject({ state: 'running', role: 'replica' });
  }, 150_000);
});
