import { afterEach, describe, expect, it } from 'vitest';
import { Tags } from '../model/member.js';
import { FakeBackend, REPLICA_STATUS, threeNodeCluster } from './fake-backend.js';
import { Histogram } from './ha-metrics.js';
import type { ApiServer } from './server.js';
import { call, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

async function scrape(backend: FakeBackend): Promise<string> {
  if (!server) server = (await startApi(backend)).server;
  const res = await call(server.address!.port, { path: '/metrics' });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain');
  return res.text;
}

/**
 * Patroni 4.1's HELP and TYPE lines, in its order (patroni/api.py do_GET_metrics; timeline is a gauge
 * since 4.1.4; failsafe_mode_enabled, failsafe_member and failover_priority are from Patroni's main branch).
 */
const PATRONI_FAMILIES: ReadonlyArray<readonly [string, string, string]> = [
  ['patroni_version', 'Patroni semver without periods.', 'gauge'],
  ['patroni_postgres_running', 'Value is 1 if Postgres is running, 0 otherwise.', 'gauge'],
  ['patroni_postmaster_start_time', 'Epoch seconds since Postgres started.', 'gauge'],
  ['patroni_primary', 'Value is 1 if this node is the leader, 0 otherwise.', 'gauge'],
  ['patroni_xlog_location', 'Current location of the Postgres transaction log, 0 if this node is not the leader.', 'counter'],
  ['patroni_standby_leader', 'Value is 1 if this node is the standby_leader, 0 otherwise.', 'gauge'],
  ['patroni_replica', 'Value is 1 if this node is a replica, 0 otherwise.', 'gauge'],
  ['patroni_sync_standby', 'Value is 1 if this node is a sync standby, 0 otherwise.', 'gauge'],
  ['patroni_quorum_standby', 'Value is 1 if this node is a quorum standby, 0 otherwise.', 'gauge'],
  ['patroni_xlog_received_location', 'Current location of the received Postgres transaction log, 0 if this node is not a replica.', 'counter'],
  ['patroni_xlog_replayed_location', 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.', 'counter'],
  ['patroni_xlog_replayed_timestamp', 'Current timestamp of the replayed Postgres transaction log, 0 if null.', 'gauge'],
  ['patroni_xlog_paused', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', 'gauge'],
  ['patroni_postgres_streaming', 'Value is 1 if Postgres is streaming, 0 otherwise.', 'gauge'],
  ['patroni_postgres_in_archive_recovery', 'Value is 1 if Postgres is replicating from archive, 0 otherwise.', 'gauge'],
  ['patroni_postgres_server_version', 'Version of Postgres (if running), 0 otherwise.', 'gauge'],
  ['patroni_cluster_unlocked', 'Value is 1 if the cluster is unlocked, 0 if locked.', 'gauge'],
  ['patroni_failsafe_mode_is_active', 'Value is 1 if failsafe mode is active, 0 if inactive.', 'gauge'],
  ['patroni_failsafe_mode_enabled', 'Value is 1 if failsafe_mode is enabled, 0 otherwise.', 'gauge'],
  ['patroni_failsafe_member', 'Value is 1 if this node is a member of failsafe, 0 otherwise.', 'gauge'],
  ['patroni_postgres_timeline', 'Postgres timeline of this node (if running), 0 otherwise.', 'gauge'],
  ['patroni_dcs_last_seen', 'Epoch timestamp when DCS was last contacted successfully by Patroni.', 'gauge'],
  ['patroni_pending_restart', 'Value is 1 if the node needs a restart, 0 otherwise.', 'gauge'],
  ['patroni_is_paused', 'Value is 1 if auto failover is disabled, 0 otherwise.', 'gauge'],
  ['patroni_postgres_state', 'Numeric representation of Postgres state.', 'gauge'],
  ['patroni_failover_priority', 'Failover priority of this node.', 'gauge'],
];

/** Prometheus text exposition 0.0.4: comment lines, or `name{label="value",...} number`. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$/;

function parse(text: string) {
  expect(text.endsWith('\n')).toBe(true);
  const samples: Array<{ name: string; labels: string; value: string }> = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      expect(line, 'comment').toMatch(/^# (HELP|TYPE|Values:) /);
      continue;
    }
    const m = SAMPLE.exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    samples.push({ name: m![1]!, labels: m![2] ?? '', value: m![3]! });
  }
  return samples;
}

/** name -> value for the samples with exactly the node's labels. */
function plainValues(text: string): Record<string, string> {
  return Object.fromEntries(parse(text).filter((s) => s.labels === '{scope="demo",name="node1"}').map((s) => [s.name, s.value]));
}

describe('GET /metrics: Patroni compatibility', () => {
  it("has every Patroni 4.1 family with Patroni's HELP text and TYPE, in Patroni's order", async () => {
    const { backend } = await threeNodeCluster();
    const text = await scrape(backend);
    const positions = PATRONI_FAMILIES.map(([name, help, type]) => {
      const at = text.indexOf(`# HELP ${name} ${help}\n`);
      expect(at, `HELP of ${name}`).toBeGreaterThanOrEqual(0);
      expect(text, `TYPE of ${name}`).toContain(`# TYPE ${name} ${type}\n`);
      return at;
    });
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(text).toContain('# Values: 0=initdb, 1=initdb_failed, 2=custom_bootstrap, 3=custom_bootstrap_failed, 4=creating_replica, ' +
      '5=running, 6=starting, 7=bootstrap_starting, 8=start_failed, 9=restarting, 10=restart_failed, 11=stopping, 12=stopped, 13=stop_failed, 14=crashed\n');
    // Each family has one sample, labelled {scope,name} exactly as Patroni does.
    for (const [name] of PATRONI_FAMILIES) expect(text).toMatch(new RegExp(`^${name}\\{scope="demo",name="node1"\\} \\S+$`, 'm'));
  });

  it('reports a primary', async () => {
    const { backend } = await threeNodeCluster();
    backend.leader = true;
    const v = plainValues(await scrape(backend));
    expect(v).toMatchObject({
      patroni_version: '040002', patroni_postgres_running: '1', patroni_postmaster_start_time: '1692356617.966',
      patroni_master: '1', patroni_primary: '1', patroni_xlog_location: '67395656', patroni_standby_leader: '0', patroni_replica: '0',
      patroni_sync_standby: '0', patroni_quorum_standby: '0', patroni_xlog_received_location: '0', patroni_xlog_replayed_location: '0',
      patroni_xlog_replayed_timestamp: '0', patroni_xlog_paused: '0', patroni_postgres_streaming: '0',
      patroni_postgres_in_archive_recovery: '0', patroni_postgres_server_version: '160002', patroni_cluster_unlocked: '0',
      patroni_failsafe_mode_is_active: '0', patroni_failsafe_mode_enabled: '0', patroni_failsafe_member: '0',
      patroni_postgres_timeline: '3', patroni_pending_restart: '0', patroni_is_paused: '0',
      patroni_postgres_state: '5', patroni_failover_priority: '1', pgha_fence_armed: '1', pgha_watchdog_failed: '0',
    });
    expect(Number(v.patroni_dcs_last_seen)).toBe(backend.dcs.lastSeen);
    expect(backend.dcs.lastSeen).toBeGreaterThan(0);
  });

  it('reports a streaming replica, pause, pending restart, failsafe membership and failover priority', async () => {
    const { seeded, backend } = await threeNodeCluster({ config: { ttl: 30, pause: true, failsafe_mode: true } });
    seeded.put('failsafe', { node1: 'http://127.0.0.1:8018/patroni', node2: 'http://127.0.0.1:8028/patroni' });
    await backend.dcs.getCluster();
    backend.status = { ...REPLICA_STATUS, pendingRestart: true, state: 'starting' };
    backend.settings = { ...backend.settings, failsafeMode: true };
    backend.tags = new Tags({ failover_priority: 7 });
    const v = plainValues(await scrape(backend));
    expect(v).toMatchObject({
      patroni_primary: '0', patroni_master: '0', patroni_replica: '1', patroni_xlog_location: '0',
      patroni_xlog_received_location: '67395000', patroni_xlog_replayed_location: '67394000', patroni_xlog_replayed_timestamp: '1692356700.5',
      patroni_postgres_streaming: '1', patroni_postgres_running: '0', patroni_postgres_state: '6', patroni_is_paused: '1',
      patroni_pending_restart: '1', patroni_failsafe_mode_enabled: '1', patroni_failsafe_member: '1', patroni_failover_priority: '7',
    });
    backend.tags = new Tags({ failover_priority: 7, nofailover: true });
    expect(plainValues(await scrape(backend)).patroni_failover_priority).toBe('0');
  });

  it('an unknown PostgreSQL state is -1 and an unreadable status still answers', async () => {
    const { backend } = await threeNodeCluster();
    backend.status = { ...REPLICA_STATUS, state: 'something new' };
    expect(plainValues(await scrape(backend)).patroni_postgres_state).toBe('-1');
    backend.nodeStatus = () => Promise.reject(new Error('monitoring query failed'));
    const v = plainValues(await scrape(backend));
    expect(v).toMatchObject({ patroni_postgres_running: '0', patroni_postgres_state: '-1', patroni_primary: '0', patroni_postgres_server_version: '0' });
    // No server_version: the streaming/archive pair is left out, as Patroni does below 9.6.
    expect(v.patroni_postgres_streaming).toBeUndefined();
  });
});

describe("GET /metrics: pgha's own", () => {
  it('exports the last decision as an info metric, escaping hostile text and bounding its length', async () => {
    const { backend } = await threeNodeCluster();
    backend.decision = { message: 'promoted "node1"\\ after\nfailover', reason: 'x'.repeat(5000) };
    const samples = parse(await scrape(backend));
    const info = samples.filter((s) => s.name === 'pgha_last_decision_info');
    expect(info).toHaveLength(1);
    expect(info[0]!.value).toBe('1');
    expect(info[0]!.labels).toContain('message="promoted \\"node1\\"\\\\ after\\nfailover"');
    expect(info[0]!.labels).toContain(`reason="${'x'.repeat(197)}..."`);
  });

  it('escapes a hostile scope and member name in every label set', async () => {
    const { backend } = await threeNodeCluster();
    Object.defineProperty(backend, 'scope', { value: 'a"b\\c\nd' });
    const samples = parse(await scrape(backend));
    expect(samples.length).toBeGreaterThan(30);
    for (const s of samples) expect(s.labels.startsWith('{scope="a\\"b\\\\c\\nd",name="node1"')).toBe(true);
  });

  it('renders the HA loop and DCS call histograms with cumulative buckets, sum and count', async () => {
    const { backend } = await threeNodeCluster();
    backend.metrics.observeLoop(0.02);
    backend.metrics.observeLoop(0.3);
    backend.metrics.observeLoop(99);
    // Wire the facade as the agent does, then make real calls against the in-memory store, one failing.
    backend.dcs.onCall = (op, s, ok) => backend.metrics.observeDcsCall(op, s, ok);
    await backend.dcs.getCluster();
    await backend.dcs.getCluster();
    backend.seeded.store.down = true;
    await expect(backend.dcs.getCluster()).rejects.toThrow(/memory store is down/);
    await expect(backend.dcs.touchMember({ state: 'running' })).rejects.toThrow();
    backend.seeded.store.down = false;
    const text = await scrape(backend);
    const samples = parse(text);
    const get = (name: string, labels: string) => samples.find((s) => s.name === name && s.labels === `{scope="demo",name="node1"${labels}}`)?.value;
    expect(text).toContain('# TYPE pgha_ha_loop_duration_seconds histogram\n');
    expect(get('pgha_ha_loop_duration_seconds_bucket', ',le="0.01"')).toBe('0');
    expect(get('pgha_ha_loop_duration_seconds_bucket', ',le="0.025"')).toBe('1');
    expect(get('pgha_ha_loop_duration_seconds_bucket', ',le="0.5"')).toBe('2');
    expect(get('pgha_ha_loop_duration_seconds_bucket', ',le="30"')).toBe('2');
    expect(get('pgha_ha_loop_duration_seconds_bucket', ',le="+Inf"')).toBe('3');
    expect(get('pgha_ha_loop_duration_seconds_count', '')).toBe('3');
    expect(Number(get('pgha_ha_loop_duration_seconds_sum', ''))).toBeCloseTo(99.32, 6);
    expect(get('pgha_dcs_call_duration_seconds_count', ',operation="load_cluster"')).toBe('3');
    expect(get('pgha_dcs_call_duration_seconds_bucket', ',operation="load_cluster",le="+Inf"')).toBe('3');
    expect(get('pgha_dcs_call_errors_total', ',operation="load_cluster"')).toBe('1');
    expect(get('pgha_dcs_call_errors_total', ',operation="touch_member"')).toBe('1');
    expect(text).toContain('# TYPE pgha_dcs_call_errors_total counter\n');
    // Buckets never decrease.
    const buckets = samples.filter((s) => s.name === 'pgha_dcs_call_duration_seconds_bucket' && s.labels.includes('load_cluster')).map((s) => Number(s.value));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('a throwing metrics hook never fails a DCS call', async () => {
    const { backend } = await threeNodeCluster();
    backend.dcs.onCall = () => { throw new Error('observer bug'); };
    await expect(backend.dcs.getCluster()).resolves.toBeTruthy();
  });

  it('reports how long ago the HA loop last started', async () => {
    const { backend } = await threeNodeCluster();
    server = (await startApi(backend, {}, { clock: { now: () => Date.now(), monotonic: () => 100_000 } })).server;
    backend.cycleStartedAt = 95_500;
    expect(plainValues(await scrape(backend)).pgha_ha_loop_age_seconds).toBe('4.5');
    backend.cycleStartedAt = 0;
    expect(plainValues(await scrape(backend)).pgha_ha_loop_age_seconds).toBe('-1');
  });
});

describe('Histogram', () => {
  it('ignores values that are not finite non-negative numbers', () => {
    const h = new Histogram([1, 2]);
    for (const v of [NaN, -1, Infinity, 1, 2, 3]) h.observe(v);
    expect(h.cumulative()).toEqual([['1', 1], ['2', 2], ['+Inf', 3]]);
    expect(h.sum).toBe(6);
  });
});
