/**
 * What pgha writes to keys Patroni reads (issue 19): the member value, `/sync` and `/status` have
 * Patroni 4.1's keys in Patroni 4.1's order (ha.py touch_member, AbstractDCS.sync_state and
 * update_leader), and pgha's extras (`pgha_reason`, `progress`) come last and change nothing that
 * Patroni's own parser (Debian's Patroni 3.0.2, patroni.dcs) reads from them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dcs, type NodeStatus } from '@pgha/core';
import { memberData, type MemberDataInput } from '../../core/src/agent/member-data.js';

const PYTHON = '/usr/bin/python3';
const PATRONI_DCS = '/usr/lib/python3/dist-packages/patroni/dcs/__init__.py';

/** Every property Patroni's Member and SyncState derive from each value, as JSON. */
function patroniReads(values: Array<{ kind: 'member' | 'sync'; value: string }>): unknown[] {
  if (!existsSync(PATRONI_DCS)) throw new Error(`${PATRONI_DCS} is missing: apt-get install patroni (or run scripts/install-deps.sh)`);
  const script = `
import json, sys
from patroni.dcs import Member, SyncState
out = []
for item in json.load(sys.stdin):
    v = item['value']
    if item['kind'] == 'member':
        m = Member.from_node(1, 'node3', None, v)
        props = {}
        for name in sorted(dir(Member)):
            if name.startswith('_') or name in ('count', 'index', 'from_node', 'data'):
                continue
            attr = getattr(m, name)
            props[name] = repr(attr() if name == 'conn_kwargs' else attr)
        out.append(props)
    else:
        s = SyncState.from_node(1, v)
        out.append({'leader': s.leader, 'sync_standby': s.sync_standby, 'members': s.members, 'matches': s.matches('node2')})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(values) }).toString());
}

const MB = 1024 * 1024;
const status = (o: Partial<NodeStatus>): NodeStatus => ({
  state: 'running', role: 'replica', postmasterStartTime: null, serverVersion: 150010, timeline: 3, walLocation: null,
  receivedLocation: 50 * MB, replayedLocation: 49 * MB, replayedTimestamp: null, replayPaused: false, replicationState: 'streaming',
  replication: [], sysid: '7268616322854375442', pendingRestart: false, pendingRestartReason: null, progress: null, ...o,
} as NodeStatus);
const input = (o: Partial<MemberDataInput>): MemberDataInput => ({
  connUrl: 'postgres://127.0.0.1:5434/postgres', apiUrl: 'http://127.0.0.1:8010/patroni', version: '4.0.0', state: 'running', role: 'replica',
  tags: { nofailover: false, clonefrom: true, failover_priority: 2 }, status: status({}), checkpointAfterPromotePending: false,
  scheduledRestart: null, paused: false, reason: null, ...o,
});

describe('member value: Patroni 4.1 keys and order, pgha extras last and ignored by Patroni', () => {
  it('a streaming replica: xlog_location, replay_lsn, receive_lsn, replication_state, timeline, as touch_member writes them', () => {
    expect(Object.keys(memberData(input({ paused: true, reason: 'following node1' })))).toEqual([
      'conn_url', 'api_url', 'state', 'role', 'version', 'tags', 'xlog_location', 'replay_lsn', 'receive_lsn', 'replication_state', 'timeline', 'pause', 'pgha_reason',
    ]);
    expect(memberData(input({}))).toMatchObject({ xlog_location: 50 * MB, replay_lsn: 49 * MB, receive_lsn: 50 * MB, timeline: 3 });
  });

  it('the primary carries no standby fields (Patroni writes them only when running as a standby)', () => {
    const data = memberData(input({ role: 'primary', checkpointAfterPromotePending: true, status: status({ role: 'primary', walLocation: 60 * MB, receivedLocation: null, replayedLocation: null, replicationState: null }) }));
    expect(Object.keys(data)).toEqual(['conn_url', 'api_url', 'state', 'role', 'version', 'checkpoint_after_promote', 'tags', 'xlog_location', 'timeline']);
    expect(data.xlog_location).toBe(60 * MB);
  });

  it("Patroni's parser reads the same member from pgha's value with and without pgha's extras", () => {
    const progress = { action: 'creating replica', method: 'basebackup', percent: 42, bytesDone: 1, bytesTotal: 2, startedAt: 0, updatedAt: 0 };
    const values = [
      memberData(input({ reason: 'no action. I am (node3), a secondary, and following a leader (node1)' })),
      memberData(input({ state: 'creating replica', role: 'uninitialized', reason: 'bootstrap from leader', status: status({ state: 'creating replica', progress } as Partial<NodeStatus>) })),
    ];
    expect(values[1]).toHaveProperty('progress');
    for (const v of values) {
      const { pgha_reason: _r, progress: _p, ...plain } = v;
      const [withExtras, without] = patroniReads([{ kind: 'member', value: JSON.stringify(v) }, { kind: 'member', value: JSON.stringify(plain) }]);
      expect(withExtras).toEqual(without);
      expect(withExtras).toMatchObject({ name: "'node3'", state: `'${String(v.state)}'`, clonefrom: 'True', nofailover: 'False' });
    }
  });
});

describe('/sync and /status values as Patroni 4.1 writes them', () => {
  it('/sync is {"leader","quorum","sync_standby"} with quorum 0 outside quorum mode; Patroni 3.0.2 reads it unchanged', () => {
    const v = Dcs.syncStateValue('node1', ['node3', 'node2']);
    expect(JSON.stringify(v)).toBe('{"leader":"node1","quorum":0,"sync_standby":"node2,node3"}');
    expect(JSON.stringify(Dcs.syncStateValue('node1', null, 1))).toBe('{"leader":"node1","quorum":1,"sync_standby":null}');
    const [read] = patroniReads([{ kind: 'sync', value: JSON.stringify(v) }]);
    expect(read).toEqual({ leader: 'node1', sync_standby: 'node2,node3', members: ['node2', 'node3'], matches: true });
  });
});
