/**
 * Patroni parity (issue 21), end to end on etcd and PostgreSQL 15, with the REST API over TLS as in
 * the report: what operators and scripts see — messages, member states, status codes, files — must
 * be Patroni 4.1's. Two clusters for the whole file, started together: `main` (3 nodes; node3 has
 * contradictory tags) and `solo` (1 node, bootstrapped by a custom command given as a path relative
 * to the agent's working directory). The scenarios run in order; each leaves a healthy cluster.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CLI, TestCluster, type TestNode } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/procs.js';
import { runAsOptions, testUser, userTempDir } from '../helpers/user.js';
import { runCtl } from '../ctl/run-ctl.js';

/** Patroni's plain line: `2026-11-29 08:00:00,123 INFO: message`. */
const PLAIN_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL): /;
const NODE3_TAGS = { nofailover: true, failover_priority: 1, nosync: false, sync_priority: 0 };

let main: TestCluster;
/** Members whose callbacks the last test checks: the pause switchover's candidate, the cleanly stopped leader. */
let promotedBySwitchover = '';
let stoppedLeader = '';
let solo: TestCluster;
let tlsDir: string;

function makeCertificate(): { certfile: string; keyfile: string } {
  tlsDir = userTempDir('parity-tls');
  const [certfile, keyfile] = [join(tlsDir, 'server.crt'), join(tlsDir, 'server.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyfile, '-out', certfile], { stdio: 'pipe' });
  const u = testUser();
  if (u) for (const f of [certfile, keyfile]) chownSync(f, u.uid, u.gid);
  return { certfile, keyfile };
}

const json = (body: unknown) => ({ method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const live = (c: TestCluster) => c.nodes.find((n) => n.agentAlive())!;

async function member(c: TestCluster, name: string): Promise<Record<string, any> | undefined> {
  const { body } = await live(c).get('/cluster');
  return (body.members as Array<Record<string, any>>).find((m) => m.name === name);
}

async function patchConfig(c: TestCluster, patch: Record<string, unknown>): Promise<void> {
  const r = await live(c).get('/config', json(patch));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** The member holding the leader key, once it differs from `not`. */
async function newLeader(c: TestCluster, not: string, ms: number): Promise<string> {
  return waitFor(async () => {
    const name = await c.leaderName().catch(() => null);
    return name && name !== not ? name : null;
  }, ms, `a leader other than ${not}`, 200);
}

/** Python's json.dumps of the same value (the format Patroni writes patroni.dynamic.json in). */
function pythonDumps(text: string): string {
  return execFileSync('python3', ['-c', 'import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))'], { input: text }).toString();
}

describe('Patroni parity (issue 21): etcd, PostgreSQL 15, TLS REST API', () => {
  beforeAll(async () => {
    const tls = makeCertificate();
    const logUnset = { log: { level: 'INFO' } };
    [main, solo] = await Promise.all([
      TestCluster.start({
        nodes: [{}, {}, { tags: NODE3_TAGS }], restapiTls: tls, local: () => logUnset,
        // Every callback, as a path relative to the agent's working directory, appends its arguments there.
        postgresql: { callbacks: Object.fromEntries(['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'].map((a) => [a, 'sh scripts/callback.sh'])) },
        prepare: (dir) => {
          execFileSync('mkdir', ['-p', join(dir, 'scripts')]);
          writeFileSync(join(dir, 'scripts', 'callback.sh'), '#!/bin/sh\necho "$@" >> callbacks.log\n', { mode: 0o755 });
        },
      }),
      TestCluster.start({
        nodes: 1, restapiTls: tls,
        prepare: (dir) => {
          execFileSync('mkdir', ['-p', join(dir, 'scripts')]);
          // A custom bootstrap given as a path relative to the agent's working directory.
          writeFileSync(join(dir, 'scripts', 'bootstrap.sh'), [
            '#!/bin/sh', 'for a in "$@"; do case "$a" in --datadir=*) D="${a#--datadir=}";; --data_dir=*) D="${a#--data_dir=}";; esac; done',
            'pwd > bootstrap-ran-in', `exec /usr/lib/postgresql/15/bin/initdb -D "$D" -U postgres -A trust -k -E UTF8`, '',
          ].join('\n'), { mode: 0o755 });
        },
        local: () => ({
          ...logUnset,
          bootstrap: {
            dcs: { ttl: 20, loop_wait: 1, retry_timeout: 5, postgresql: { use_pg_rewind: true, parameters: { wal_log_hints: 'on' } } },
            method: 'from_script', from_script: { command: 'sh scripts/bootstrap.sh' },
          },
        }),
      }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([main?.stop(), solo?.stop()]);
    if (tlsDir) execFileSync('rm', ['-rf', tlsDir]);
  }, 180_000);

  it('(10) runs a custom bootstrap command from the directory the agent was started in', async () => {
    const node = solo.node('node1');
    await solo.waitHealthy(0, 120_000);
    expect(readFileSync(join(node.dir, 'bootstrap-ran-in'), 'utf8').trim()).toBe(node.dir);
    await solo.expectWritablePrimaries(['node1']);
  }, 150_000);

  it('(3) POST /reinitialize on the leader of a one-node cluster: 503 I am the leader, can not reinitialize', async () => {
    const r = await solo.node('node1').get('/reinitialize', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r).toEqual({ status: 503, body: 'I am the leader, can not reinitialize' });
  });

  it("(1) a second agent with a running member's name exits 1 at once: CRITICAL: Can't start; there is already a node named", async () => {
    const node = solo.node('node1');
    const cfg = parse(readFileSync(node.configPath, 'utf8'));
    const apiPort = await freePort();
    cfg.restapi = { ...cfg.restapi, listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` };
    cfg.postgresql = { ...cfg.postgresql, data_dir: join(node.dir, 'second-data') };
    const path = join(node.dir, 'second.yml');
    writeFileSync(path, stringify(cfg));
    const started = Date.now();
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'run', path], { ...runAsOptions(), cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
      const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`second agent still running after 30 s:\n${out}`)); }, 30_000);
      child.on('close', (c) => { clearTimeout(t); resolve({ code: c, out }); });
    });
    expect(code, out).toBe(1);
    expect(Date.now() - started, "it must exit at once, not run on").toBeLessThan(20_000);
    expect(out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} CRITICAL: Can't start; there is already a node named 'node1' running$/m);
    expect(existsSync(join(node.dir, 'second-data', 'PG_VERSION'))).toBe(false);
    expect((await node.get('/patroni')).body.state).toBe('running');
  }, 60_000);

  it('(14) with log.type unset every agent line is Patroni plain format, level as the word', async () => {
    await main.waitHealthy(2, 150_000);
    for (const n of [...main.nodes, ...solo.nodes]) {
      const lines = n.log().split('\n').filter((l) => l.trim());
      expect(lines.length).toBeGreaterThan(3);
      expect(lines.filter((l) => l.startsWith('{')), n.name).toEqual([]);
      expect(lines.filter((l) => /^\d{4}-/.test(l) && !PLAIN_LINE.test(l)), n.name).toEqual([]);
    }
    const leader = (await main.leaderName())!;
    expect(main.node(leader).log()).toMatch(new RegExp(`^\\S+ \\S+,\\d{3} INFO: no action\\. I am \\(${leader}\\), the leader with the lock$`, 'm'));
  }, 180_000);

  it('(9) contradictory tags: Patroni\'s warnings, and the member key carries both tags', async () => {
    const log = main.node('node3').log();
    expect(log).toMatch(/ WARNING: Conflicting configuration between nofailover: True and failover_priority: 1\. Defaulting to nofailover: True$/m);
    expect(log).toMatch(/ WARNING: Conflicting configuration between nosync: False and sync_priority: 0\. Defaulting to nosync: False$/m);
    await waitFor(async () => JSON.stringify((await member(main, 'node3'))?.tags) === JSON.stringify(NODE3_TAGS), 15_000, 'node3 tags in its member key');
    expect((await main.node('node3').get('/patroni')).body.tags).toEqual(NODE3_TAGS);
  }, 30_000);

  it('(13) patroni.dynamic.json in data_dir holds /config as Patroni writes it, and follows changes', async () => {
    const check = async (n: TestNode, want: (cfg: Record<string, unknown>) => boolean) => waitFor(async () => {
      const path = join(n.dataDir, 'patroni.dynamic.json');
      if (!existsSync(path)) return null;
      const text = readFileSync(path, 'utf8');
      const dcs = (await n.get('/config')).body;
      const parsed = JSON.parse(text);
      return want(parsed) && JSON.stringify(parsed) === JSON.stringify(dcs) ? text : null;
    }, 20_000, `${n.name}: patroni.dynamic.json equal to /config`);
    for (const n of main.nodes) {
      const text = await check(n, () => true);
      expect(text).toBe(pythonDumps(text));
    }
    await patchConfig(main, { primary_race_backoff: 8 });
    for (const n of main.nodes) {
      const text = await check(n, (c) => c.primary_race_backoff === 8);
      expect(text).toContain('"primary_race_backoff": 8');
    }
  }, 90_000);

  it('(4) tags changed in the local YAML, then POST /reload: GET /patroni and the member key show them', async () => {
    const n = main.node('node2');
    const cfg = parse(readFileSync(n.configPath, 'utf8'));
    cfg.tags = { ...cfg.tags, team: 'blue' };
    writeFileSync(n.configPath, stringify(cfg));
    const r = await n.get('/reload', { method: 'POST' });
    expect(r.status).toBe(202);
    await waitFor(async () => (await n.get('/patroni')).body.tags?.team === 'blue', 15_000, 'GET /patroni tags.team');
    await waitFor(async () => (await member(main, 'node2'))?.tags?.team === 'blue', 15_000, 'member key tags.team');
  }, 40_000);

  it('(6)(5) paused: ctl refuses a scheduled switchover; POST /switchover to a streaming replica over TLS switches over', async () => {
    const old = (await main.waitHealthy(2, 60_000)).name;
    const candidate = ['node1', 'node2'].find((x) => x !== old)!;
    await patchConfig(main, { pause: true });
    await waitFor(async () => {
      for (const n of main.nodes) if ((await n.get('/patroni')).body.pause !== true) return false;
      return (await live(main).get('/cluster')).body.pause === true;
    }, 20_000, 'every member paused');

    const cfg = main.node('node1').configPath;
    const forced = await runCtl(['-c', cfg, 'switchover', '--force', '--scheduled', '2099-01-01T00:00:00+00:00']);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain("Error: Can't schedule switchover in the paused state");
    const asked = await runCtl(['-c', cfg, 'switchover', '--scheduled', '2099-01-01T00:00:00+00:00'], { input: `\n${candidate}\n` });
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain("Error: Can't schedule switchover in the paused state");
    expect(asked.stderr).not.toContain('is not the leader of cluster');

    const r = await main.node(old).get('/switchover', { method: 'POST', body: JSON.stringify({ leader: old, candidate }), headers: { 'content-type': 'application/json' } });
    expect(r.status, String(r.body)).toBe(200);
    expect(await newLeader(main, old, 60_000)).toBe(candidate);
    promotedBySwitchover = candidate;

    await patchConfig(main, { pause: null });
    // Every agent must have seen the resume: a stop while an agent still thinks it is paused leaves
    // PostgreSQL running, as in Patroni (the next test stops the leader).
    await waitFor(async () => {
      for (const n of main.nodes) if ((await n.get('/patroni')).body.pause === true) return false;
      return true;
    }, 20_000, 'every member resumed');
    await main.waitHealthy(2, 120_000);
  }, 240_000);

  it('(2)(12) a clean stop publishes state stopped; replicas back off for primary_race_backoff before racing', async () => {
    const old = (await main.waitHealthy(2, 60_000)).name;
    stoppedLeader = old;
    await main.node(old).stopAgent();
    const m = await member(main, old);
    expect(m?.state).toBe('stopped');
    const next = await newLeader(main, old, 60_000);
    expect(main.node(next).log()).toMatch(new RegExp(`INFO: My \\(${next}\\) wal position moved since last heart beat loop, \\d+ seconds until leader race$`, 'm'));
    main.node(old).start();
    await main.waitHealthy(2, 120_000);
    await patchConfig(main, { primary_race_backoff: null });
  }, 240_000);

  it('(8) a crashed primary whose restart fails releases the key as demoted; it comes back as a replica', async () => {
    const old = await main.waitHealthy(2, 60_000);
    const autoConf = join(old.dataDir, 'postgresql.auto.conf');
    const saved = readFileSync(autoConf, 'utf8');
    // The postmaster refuses to start (no such certificate), while single-user crash recovery before
    // pg_rewind (no TLS there) still works: only the restart fails, as with a broken disk or config.
    appendFileSync(autoConf, "ssl = on\nssl_cert_file = 'no-such-certificate.crt'\n");
    process.kill(old.postmasterPid()!, 'SIGKILL');
    const crashedAt = Date.now();
    const next = await newLeader(main, old.name, 30_000);
    expect(Date.now() - crashedAt).toBeLessThan(30_000);
    expect(old.log()).toMatch(/INFO: removed leader key after trying and failing to start postgres$/m);
    writeFileSync(autoConf, saved);
    await waitFor(async () => (await member(main, old.name))?.role === 'replica' && (await member(main, old.name))?.state === 'streaming', 150_000, `${old.name} streaming from ${next}`);
    await main.waitHealthy(2, 60_000);
  }, 300_000);

  it('(7) primary_start_timeout 0: a crashed primary fails over at once', async () => {
    await patchConfig(main, { primary_start_timeout: 0 });
    const old = await main.waitHealthy(2, 60_000);
    await waitFor(async () => (await old.get('/config')).body.primary_start_timeout === 0 && existsSync(join(old.dataDir, 'patroni.dynamic.json'))
      && JSON.parse(readFileSync(join(old.dataDir, 'patroni.dynamic.json'), 'utf8')).primary_start_timeout === 0, 20_000, 'the leader to apply primary_start_timeout 0');
    // Failover needs a peer that answers GET /patroni within Patroni's 2 s; on a loaded machine it may
    // not, and then the primary is (correctly) restarted: crash it again, up to three times.
    let next: string | null = null;
    for (let attempt = 0; attempt < 3 && !next; attempt++) {
      const pid = await waitFor(async () => old.postmasterPid(), 60_000, `${old.name}'s postmaster`);
      process.kill(pid, 'SIGKILL');
      next = await newLeader(main, old.name, 15_000).catch(() => null);
    }
    expect(next, `no failover after crashing ${old.name}'s primary`).not.toBeNull();
    expect(old.log()).toMatch(/INFO: stopped PostgreSQL to fail over after a crash$/m);
    await patchConfig(main, { primary_start_timeout: null });
    await main.waitHealthy(2, 120_000);
  }, 240_000);

  it('(10) callbacks run in the agent\'s working directory with Patroni\'s arguments: <action> <role> <scope>', async () => {
    const lines = (n: TestNode) => { try { return readFileSync(join(n.dir, 'callbacks.log'), 'utf8').split('\n').filter(Boolean); } catch { return []; } };
    const has = (name: string, line: string) => waitFor(async () => lines(main.node(name)).includes(line), 20_000, `${name}: callback "${line}" (has: ${lines(main.node(name)).join(' | ')})`);
    const scope = main.scope;
    await has('node3', `on_start replica ${scope}`);
    await has(promotedBySwitchover, `on_role_change primary ${scope}`);
    // The stopped leader's on_stop carries the role it had then: `demoted` once it handed the key over
    // during the shutdown (Patroni's set_role('demoted') in on_shutdown), else `primary`.
    await waitFor(async () => lines(main.node(stoppedLeader)).some((l) => new RegExp(`^on_stop (primary|demoted) ${scope}$`).test(l)), 20_000, `${stoppedLeader}: on_stop`);
    await waitFor(async () => lines(main.node('node2')).some((l) => new RegExp(`^on_reload (primary|replica) ${scope}$`).test(l)), 20_000, 'node2: on_reload after POST /reload');
    for (const n of main.nodes) for (const l of lines(n)) expect(l).toMatch(new RegExp(`^on_(start|stop|restart|reload|role_change) (primary|replica|demoted) ${scope}$`));
  }, 60_000);
});
