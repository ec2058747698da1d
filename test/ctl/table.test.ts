import { describe, expect, it } from 'vitest';
import { buildCluster, type DcsNode } from '@pgha/core';
import { formatMembers, topologySort, clusterView } from '../../cli/src/ctl/members.js';
import { formatOutput, prettyTable } from '../../cli/src/ctl/output.js';

const MB = 1024 * 1024;

function member(name: string, port: number, data: Record<string, unknown>): DcsNode {
  return { key: `members/${name}`, version: 1, value: JSON.stringify({ conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: `http://127.0.0.1:${port + 1000}/patroni`, ...data }) };
}

/** A healthy 3-member cluster; `extra` keys replace the ones with the same name. */
function demo(extra: DcsNode[] = []) {
  const keys = new Set(extra.map((n) => n.key));
  return buildCluster([
    { key: 'initialize', version: 1, value: '7268616322854375442' },
    { key: 'config', version: 2, value: JSON.stringify({ ttl: 30, loop_wait: 10 }) },
    { key: 'leader', version: 3, value: 'node1' },
    { key: 'status', version: 4, value: JSON.stringify({ optime: 50 * MB }) },
    member('node1', 5432, { state: 'running', role: 'primary', timeline: 2, xlog_location: 50 * MB }),
    member('node2', 5433, { state: 'running', role: 'replica', replication_state: 'streaming', timeline: 2, xlog_location: 47 * MB, receive_lsn: 47 * MB, replay_lsn: 46 * MB + 12345 }),
    member('node3', 5434, { state: 'stopped', role: 'replica', timeline: 1 }),
  ].filter((n) => !keys.has(n.key)).concat(extra));
}

describe('pretty tables', () => {
  it('draws a PrettyTable-style frame with the title in the top border', () => {
    expect(prettyTable(['A', 'Num'], [['x', 1], ['longer', 22]], { title: ' T ', align: { Num: 'r' } })).toBe([
      '+ T -----+-----+',
      '| A      | Num |',
      '+--------+-----+',
      '| x      |   1 |',
      '| longer |  22 |',
      '+--------+-----+',
    ].join('\n'));
  });

  it('separates every row when a cell spans lines', () => {
    const t = prettyTable(['A', 'B'], [['x', 'l1\nl2'], ['y', 'z']]);
    expect(t.split('\n')).toEqual(['+---+----+', '| A | B  |', '+---+----+', '| x | l1 |', '|   | l2 |', '+---+----+', '| y | z  |', '+---+----+']);
  });
});

describe('list output', () => {
  // Expected texts: Patroni 4.1's output_members (ctl.py) run on the same cluster.
  it('shows role, state, timeline, receive/replay LSN and lag in MB as patronictl 4.1, system identifier in the title', () => {
    expect(formatMembers(demo(), 'demo')).toBe([
      '+ Cluster: demo (7268616322854375442) ----------+----+-------------+-----+------------+-----+',
      '| Member | Host           | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag |',
      '+--------+----------------+---------+-----------+----+-------------+-----+------------+-----+',
      '| node1  | 127.0.0.1:5432 | Leader  | running   |  2 |             |     |            |     |',
      '| node2  | 127.0.0.1:5433 | Replica | streaming |  2 |   0/2F00000 |   3 |  0/2E03039 |   4 |',
      '| node3  | 127.0.0.1:5434 | Replica | stopped   |  1 |     unknown |     |    unknown |     |',
      '+--------+----------------+---------+-----------+----+-------------+-----+------------+-----+',
    ].join('\n'));
  });

  it('json is byte for byte patronictl 4.1 (Python separators, empty values dropped); tsv prints every column', () => {
    expect(formatMembers(demo(), 'demo', { fmt: 'json' })).toBe('[{"Cluster": "demo", "Member": "node1", "Host": "127.0.0.1:5432", "Role": "Leader", "State": "running", "TL": 2}, '
      + '{"Cluster": "demo", "Member": "node2", "Host": "127.0.0.1:5433", "Role": "Replica", "State": "streaming", "TL": 2, "Receive LSN": "0/2F00000", "Receive Lag": 3, "Replay LSN": "0/2E03039", "Replay Lag": 4}, '
      + '{"Cluster": "demo", "Member": "node3", "Host": "127.0.0.1:5434", "Role": "Replica", "State": "stopped", "TL": 1, "Receive LSN": "unknown", "Replay LSN": "unknown"}]');
    expect(formatMembers(demo(), 'demo', { fmt: 'tsv' }).split('\n')).toEqual([
      'Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag',
      'demo\tnode1\t127.0.0.1:5432\tLeader\trunning\t2\t\t\t\t',
      'demo\tnode2\t127.0.0.1:5433\tReplica\tstreaming\t2\t0/2F00000\t3\t0/2E03039\t4',
      'demo\tnode3\t127.0.0.1:5434\tReplica\tstopped\t1\tunknown\t\tunknown\t',
    ]);
  });

  it('a member with only xlog_location (an older agent) shows it as receive position when streaming, else replay', () => {
    const c = demo([
      member('node2', 5433, { state: 'running', role: 'replica', replication_state: 'streaming', timeline: 2, xlog_location: 47 * MB }),
      member('node3', 5434, { state: 'running', role: 'replica', timeline: 2, xlog_location: 48 * MB }),
    ]);
    const rows = JSON.parse(formatMembers(c, 'demo', { fmt: 'json' }));
    expect(rows[1]).toMatchObject({ 'Receive LSN': '0/2F00000', 'Receive Lag': 3, 'Replay LSN': 'unknown' });
    expect(rows[2]).toMatchObject({ 'Receive LSN': 'unknown', 'Replay LSN': '0/3000000', 'Replay Lag': 2 });
    expect(rows[2]['Receive Lag']).toBeUndefined();
  });

  it('titles uninitialized and initializing clusters, and prints the maintenance and switchover footer', () => {
    expect(formatMembers(buildCluster([]), 'x').split('\n')[0]).toContain(' Cluster: x (uninitialized) ');
    expect(formatMembers(buildCluster([{ key: 'initialize', version: 1, value: '' }]), 'x').split('\n')[0]).toContain('(initializing)');
    const paused = demo([
      { key: 'config', version: 5, value: JSON.stringify({ pause: true }) },
      { key: 'failover', version: 6, value: JSON.stringify({ leader: 'node1', member: 'node2', scheduled_at: '2030-01-01T12:00:00+00:00' }) },
    ]);
    expect(formatMembers(paused, 'demo').split('\n').slice(-4)).toEqual([
      '+--------+----------------+---------+-----------+----+-------------+-----+------------+-----+',
      ' Maintenance mode: on',
      ' Switchover scheduled at: 2030-01-01T12:00:00+00:00',
      '                    from: node1\n                      to: node2',
    ].flatMap((l) => l.split('\n')).slice(-4));
  });

  it('adds the extended columns: pending restart, reason, scheduled restart, tags', () => {
    const c = demo([member('node2', 5433, {
      state: 'running', role: 'replica', timeline: 2, xlog_location: 50 * MB, pending_restart: true,
      pending_restart_reason: { max_connections: { old_value: '100', new_value: '200' } },
      scheduled_restart: { schedule: '2030-01-01T12:00:00+00:00', postgres_version: '16.0' }, tags: { nofailover: true },
    })]);
    const rows = JSON.parse(formatMembers(c, 'demo', { fmt: 'json', extended: true }));
    expect(rows[1]).toMatchObject({
      'Pending restart': '*', 'Pending restart reason': 'max_connections: 100->200',
      'Scheduled restart': '2030-01-01T12:00:00+00:00 if version < 16.0', Tags: { nofailover: true },
    });
    const header = formatMembers(c, 'demo', { extended: true }).split('\n')[1]!.split('|').map((h) => h.trim()).filter(Boolean);
    expect(header).toEqual(['Member', 'Host', 'Role', 'State', 'TL', 'Receive LSN', 'Lag', 'Replay LSN', 'Lag', 'Pending restart', 'Pending restart reason', 'Scheduled restart', 'Tags']);
    // Tags print as YAML in the pretty table.
    expect(formatMembers(c, 'demo', { extended: true })).toContain('| nofailover: true |');
  });

  it('shows sync standbys in synchronous mode and indents cascading replicas in topology', () => {
    const c = demo([
      { key: 'config', version: 5, value: JSON.stringify({ synchronous_mode: true }) },
      { key: 'sync', version: 6, value: JSON.stringify({ leader: 'node1', sync_standby: 'node2' }) },
      member('node3', 5434, { state: 'running', role: 'replica', tags: { replicatefrom: 'node2' } }),
    ]);
    expect(clusterView(c).members.map((m) => m.role)).toEqual(['leader', 'sync_standby', 'replica']);
    expect(topologySort(clusterView(c).members).map((m) => m.name)).toEqual(['node1', '+ node2', '  + node3']);
    expect(formatMembers(c, 'demo', { fmt: 'topology' })).toContain('| Sync Standby |');
  });

  it('history-style tables without a title keep empty values in json', () => {
    expect(JSON.parse(formatOutput(['TL', 'Reason'], [[1, '']], { fmt: 'json' }))).toEqual([{ TL: 1, Reason: '' }]);
    expect(formatOutput(['TL', 'Reason'], [[1, 'x']], { fmt: 'yaml' })).toBe('- Reason: x\n  TL: 1');
  });
});
