/**
 * The patronictl-compatible verbs against a real 3-node cluster (etcd + 3 `pgha run` agents with
 * PostgreSQL 15). One cluster for the whole file; the tests run in order and each leaves the
 * cluster healthy for the next, except `remove`, which comes last.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { runCtl } from './run-ctl.js';

let cluster: TestCluster;
let leader: TestNode;
let cfg: string;

interface ListRow { Cluster: string; Member: string; Host: string; Role: string; State: string; TL: number; 'Receive LSN'?: string; 'Receive Lag'?: number; 'Replay LSN'?: string; 'Replay Lag'?: number }

async function listJson(): Promise<ListRow[]> {
  const r = await runCtl(['-c', cfg, 'list', '-f', 'json']);
  if (r.code !== 0) throw new Error(`pgha list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ListRow[];
}

/** The leader per the DCS, once every member streams again (after switchover/reinit). */
async function waitAllStreaming(): Promise<string> {
  return waitFor(async () => {
    const rows = await listJson();
    const leaders = rows.filter((r) => r.Role === 'Leader' && r.State === 'running');
    const streaming = rows.filter((r) => r.Role === 'Replica' && r.State === 'streaming');
    return leaders.length === 1 && streaming.length === 2 ? leaders[0]!.Member : null;
  }, 90_000, 'one running leader and two streaming replicas in pgha list', 500);
}

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3 });
  cfg = cluster.node('node1').configPath;
  // Healthy per the DCS as `pgha list` reads it: one running leader, two streaming replicas.
  leader = cluster.node(await waitAllStreaming());
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('pgha management verbs on a 3-node cluster', () => {
  it('list shows one leader and two streaming replicas, in every format and option position', async () => {
    const rows = await listJson();
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.Member)).toEqual(['node1', 'node2', 'node3']);
    expect(rows.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([leader.name]);
    for (const r of rows.filter((x) => x.Role === 'Replica')) {
      expect(r.State).toBe('streaming');
      expect(r['Receive LSN']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(typeof r['Receive Lag']).toBe('number');
      expect(r['Replay LSN']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(typeof r['Replay Lag']).toBe('number');
      expect(r.Cluster).toBe(cluster.scope);
    }
    const sysid = (await leader.sql<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;

    // The config file after the verb, and the DCS from --dcs-url with no config at all.
    const pretty = await runCtl(['list', '-c', cfg]);
    expect(pretty.code).toBe(0);
    expect(pretty.stdout.split('\n')[0]).toMatch(new RegExp(`^\\+ Cluster: ${cluster.scope} \\(${sysid}\\) -+\\+`));
    expect(pretty.stdout).toMatch(new RegExp(`\\| ${leader.name} +\\| 127\\.0\\.0\\.1:${leader.pgPort} +\\| Leader +\\| running +\\|`));
    const url = `etcd3://${cluster.etcd.endpoints[0]!.replace(/^https?:\/\//, '')}/service`;
    const viaUrl = await runCtl(['--dcs-url', url, 'list', cluster.scope, '--format', 'tsv'], { env: { PATRONICTL_CONFIG_FILE: '' } });
    expect(viaUrl.code, viaUrl.stderr).toBe(0);
    expect(viaUrl.stdout.split('\n')[0]).toBe('Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag');
    expect(viaUrl.stdout.trim().split('\n')).toHaveLength(4);
    const viaEnv = await runCtl(['list', '-f', 'yaml'], { env: { PATRONICTL_CONFIG_FILE: cfg } });
    expect(viaEnv.stdout).toContain(`Member: ${leader.name}`);
  });

  it('dsn, query, topology, show-config and history answer, their json parses', async () => {
    const dsn = await runCtl(['-c', cfg, 'dsn']);
    expect(dsn.stdout.trim()).toBe(`host=127.0.0.1 port=${leader.pgPort}`);
    const q = await runCtl(['query', '--config-file', cfg, '-U', 'postgres', '-c', 'SELECT 1 AS one, pg_is_in_recovery() AS rec', '--format', 'json'],
      { env: { PGPASSWORD: 'su-secret' } });
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual([{ one: 1, rec: false }]);
    const onReplica = await runCtl(['query', '--config-file', cfg, '-U', 'postgres', '-r', 'replica', '-c', 'SELECT pg_is_in_recovery()'], { env: { PGPASSWORD: 'su-secret' } });
    expect(onReplica.stdout.trim().split('\n')).toEqual(['pg_is_in_recovery', 'True']);

    const topo = await runCtl(['-c', cfg, 'topology']);
    expect(topo.stdout).toMatch(/\| \+ node\d/);
    const show = await runCtl(['-c', cfg, 'show-config']);
    expect(show.stdout).toMatch(/^loop_wait: 1$/m);
    const hist = await runCtl(['-c', cfg, 'history', '-f', 'json']);
    expect(Array.isArray(JSON.parse(hist.stdout))).toBe(true);
  });

  it('version CLUSTER prints every member\'s agent and PostgreSQL version from GET /patroni', async () => {
    const ver = await runCtl(['-c', cfg, 'version', cluster.scope]);
    expect(ver.stdout).toMatch(/^pgha version \S+\n\n/);
    for (const n of ['node1', 'node2', 'node3']) expect(ver.stdout).toMatch(new RegExp(`^${n}: Patroni \\S+ PostgreSQL 15\\.\\d+$`, 'm'));
    const one = await runCtl(['-c', cfg, 'version', cluster.scope, 'node2']);
    expect(one.stdout.trim().split('\n').slice(1).filter(Boolean)).toHaveLength(1);
  });

  it('edit-config -s changes /config with a CAS write and prints the diff', async () => {
    const r = await runCtl(['-c', cfg, 'edit-config', '-s', 'ttl=25', '-p', 'work_mem=8MB', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^-ttl: 20$/m);
    expect(r.stdout).toMatch(/^\+ttl: 25$/m);
    expect(r.stdout).toMatch(/^\+    work_mem: 8MB$/m);
    expect(r.stdout).toContain('Configuration changed');
    const show = await runCtl(['-c', cfg, 'show-config']);
    expect(show.stdout).toMatch(/^ttl: 25$/m);
    // The agents serve /config from their view of the DCS, refreshed every loop_wait.
    await waitFor(async () => {
      const { body } = await leader.get('/config');
      return body.ttl === 25 && body.postgresql.parameters.work_mem === '8MB';
    }, 15_000, 'the leader to serve the edited /config');
    const again = await runCtl(['-c', cfg, 'edit-config', '-s', 'ttl=25', '--force']);
    expect(again.stdout.trim()).toBe('Not changed');
    const removed = await runCtl(['-c', cfg, 'edit-config', '-s', 'postgresql.parameters.work_mem=null', '--force']);
    expect(removed.stdout).toMatch(/^-    work_mem: 8MB$/m);
  });

  it('edit-config runs $EDITOR on the YAML and asks before applying', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-ctl-editor-'));
    try {
      const editor = join(dir, 'editor.sh');
      writeFileSync(editor, '#!/bin/sh\nsed -i "s/^maximum_lag_on_failover: .*/maximum_lag_on_failover: 2097152/" "$1"\n', { mode: 0o755 });
      const declined = await runCtl(['-c', cfg, 'edit-config'], { env: { EDITOR: editor }, input: 'n\n' });
      expect(declined.stdout).toMatch(/^\+maximum_lag_on_failover: 2097152$/m);
      expect(declined.stdout).toContain('Apply these changes? [y/N]: ');
      expect(declined.stdout).not.toContain('Configuration changed');
      const accepted = await runCtl(['-c', cfg, 'edit-config'], { env: { EDITOR: editor }, input: 'y\n' });
      expect(accepted.stdout).toContain('Configuration changed');
      expect((await runCtl(['-c', cfg, 'show-config'])).stdout).toMatch(/^maximum_lag_on_failover: 2097152$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pause and resume --wait toggle maintenance mode, shown in the list footer', async () => {
    const p = await runCtl(['-c', cfg, 'pause', '--wait']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain("'pause' request sent, waiting until it is recognized by all nodes");
    expect(p.stdout).toContain('Success: cluster management is paused');
    expect((await runCtl(['-c', cfg, 'list'])).stdout).toMatch(/^ Maintenance mode: on$/m);
    const again = await runCtl(['-c', cfg, 'pause']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Error: Cluster is already paused');
    const sched = await runCtl(['-c', cfg, 'switchover', '--force', '--scheduled', '2099-01-01T00:00:00+00:00']);
    expect(sched.code).toBe(1);
    expect(sched.stderr).toContain("Error: Can't schedule switchover in the paused state");

    const r = await runCtl(['-c', cfg, 'resume', '--wait']);
    expect(r.stdout).toContain('Success: cluster management is resumed');
    expect((await runCtl(['-c', cfg, 'list'])).stdout).not.toContain('Maintenance mode');
  });

  it('switchover refuses a wrong --leader and moves the leader to --candidate', async () => {
    const old = await waitAllStreaming();
    const replica = ['node1', 'node2', 'node3'].find((n) => n !== old)!;
    const wrong = await runCtl(['-c', cfg, 'switchover', '--leader', replica, '--candidate', old, '--force']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`Error: Member ${replica} is not the leader of cluster ${cluster.scope}`);
    const noSuch = await runCtl(['-c', cfg, 'switchover', '--candidate', 'nobody', '--force']);
    expect(noSuch.code).toBe(1);
    expect(noSuch.stderr).toContain(`Error: Member nobody does not exist in cluster ${cluster.scope} or is tagged as nofailover`);

    const r = await runCtl(['-c', cfg, 'switchover', '--primary', old, '--candidate', replica, '--force'], { timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Current cluster topology');
    expect(r.stdout).toContain(`Successfully switched over to "${replica}"`);
    expect(await waitAllStreaming()).toBe(replica);
    leader = cluster.node(replica);
  }, 150_000);

  it('restart <cluster> <member> --force restarts that PostgreSQL', async () => {
    const target = cluster.nodes.find((n) => n.name !== leader.name)!;
    const pid = target.postmasterPid();
    const r = await runCtl(['-c', cfg, 'restart', cluster.scope, target.name, '--force'], { timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`Success: restart on member ${target.name}`);
    expect(target.postmasterPid()).not.toBe(pid);
    const reload = await runCtl(['-c', cfg, 'reload', cluster.scope, target.name, '--force']);
    expect(reload.stdout).toMatch(new RegExp(`(No changes to apply|Reload request received) (on |for )?member ${target.name}`));
    const notMember = await runCtl(['-c', cfg, 'restart', cluster.scope, 'nobody', '--force']);
    expect(notMember.code).toBe(1);
    expect(notMember.stderr).toContain('Error: No any among provided members');
    await waitAllStreaming();
  }, 150_000);

  it('reinit <cluster> <replica> --force --wait rebuilds the replica', async () => {
    const target = cluster.nodes.find((n) => n.name !== leader.name)!;
    await leader.sql('CREATE TABLE IF NOT EXISTS reinit_marker AS SELECT 42 AS v');
    const onLeader = await runCtl(['-c', cfg, 'reinit', cluster.scope, leader.name, '--force']);
    expect(onLeader.code).toBe(1);
    expect(onLeader.stderr).toContain('Error: No replica among provided members');
    const r = await runCtl(['-c', cfg, 'reinit', cluster.scope, target.name, '--force', '--wait'], { timeoutMs: 150_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`Success: reinitialize for member ${target.name}`);
    expect(r.stdout).toContain(`Waiting for reinitialize to complete on: ${target.name}`);
    expect(r.stdout).toContain(`Reinitialize is completed on: ${target.name}`);
    await waitAllStreaming();
    await waitFor(async () => (await target.sql<{ v: number }>('SELECT v FROM reinit_marker'))[0]?.v === 42, 30_000, 'the marker table on the rebuilt replica');
  }, 180_000);

  it('flush reports when nothing is scheduled; wrong arguments are usage errors (exit 2)', async () => {
    const f = await runCtl(['-c', cfg, 'flush', cluster.scope, 'switchover', '--force']);
    expect(f.stdout.trim()).toBe('No pending scheduled switchover');
    for (const args of [['restart'], ['list', '--bogus'], ['list', '-f', 'xml'], ['flush', cluster.scope, 'reboot'], ['list', '-w', 'soon']]) {
      const r = await runCtl(['-c', cfg, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^Usage: pgha \S+ /m);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('with the agents gone, switchover and flush fall back to the DCS; remove asks and deletes every key', async () => {
    const prefix = `/service/${cluster.scope}/`;
    const etcd = new Etcd3({ hosts: cluster.etcd.endpoints as string[] });
    try {
      const bad = await runCtl(['-c', cfg, 'remove', cluster.scope], { input: 'not-the-name\n' });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('Please confirm the cluster name to remove: ');
      expect(bad.stderr).toContain('Error: Cluster names specified do not match');
      expect(await etcd.getAll().prefix(prefix).count()).toBeGreaterThan(0);

      // Agents that keep running would write their keys back: kill them, their keys outlive them for ttl.
      for (const n of cluster.nodes) n.signalAgent('SIGKILL');
      const leaderName = (await etcd.get(`${prefix}leader`).string())!;
      const candidate = cluster.nodes.find((n) => n.name !== leaderName)!.name;

      // No REST API answers: switchover writes /failover itself, flush clears it the same way.
      const sw = await runCtl(['-c', cfg, 'switchover', '--candidate', candidate, '--scheduled', '2099-01-01T00:00:00+00:00', '--force']);
      expect(sw.code, sw.stdout + sw.stderr).toBe(0);
      expect(sw.stdout).toContain('Could not switchover using Patroni api, falling back to DCS');
      expect(JSON.parse((await etcd.get(`${prefix}failover`).string())!)).toEqual({ leader: leaderName, member: candidate, scheduled_at: '2099-01-01T00:00:00+00:00' });
      expect((await runCtl(['-c', cfg, 'list'])).stdout).toMatch(new RegExp(`^ Switchover scheduled at: 2099-01-01T00:00:00\\+00:00\n +from: ${leaderName}\n +to: ${candidate}$`, 'm'));
      const fl = await runCtl(['-c', cfg, 'flush', cluster.scope, 'switchover', '--force']);
      expect(fl.stdout).toContain(`Could not find any accessible member of cluster ${cluster.scope}`);
      expect(await etcd.get(`${prefix}failover`).string()).toBe('{}');

      const r = await runCtl(['-c', cfg, 'remove', cluster.scope], { input: `${cluster.scope}\nYes I am aware\n${leaderName}\n` });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`You are about to remove all information in DCS for ${cluster.scope}, please type: "Yes I am aware": `);
      expect(r.stdout).toContain('This cluster currently is healthy. Please specify the leader name to continue: ');
      expect(await etcd.getAll().prefix(prefix).count()).toBe(0);
      expect((await runCtl(['-c', cfg, 'list'])).stdout.split('\n')[0]).toContain(`Cluster: ${cluster.scope} (uninitialized)`);
    } finally {
      etcd.close();
    }
  });
});
