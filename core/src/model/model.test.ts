/** Every example in the seed (Patroni's dcs package documentation) as a test, plus the helpers around them. */
import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';
import { Member } from './member.js';
import { parseConnectionString, slotNameFromMemberName } from './names.js';
import { ClusterConfig, Failover, Leader, Status, SyncState, TimelineHistory } from './values.js';

describe('Member.fromNode', () => {
  it('parses a JSON value', () => {
    expect(Member.fromNode(-1, '', '', '{"conn_url": "postgres://foo@bar/postgres"}')).not.toBeNull();
    expect(Member.fromNode(-1, '', '', '{"conn_url": "postgres://foo@bar/postgres"}').connUrl).toBe('postgres://foo@bar/postgres');
  });
  it('yields empty data for malformed JSON', () => {
    const m = Member.fromNode(-1, '', '', '{');
    expect(m).toMatchObject({ version: -1, name: '', session: '', data: {} });
  });
  it.each(['[]', '1', 'null', '"str"', ''])('yields empty data for non-object %j', (v) => {
    expect(Member.fromNode(1, 'n', null, v).data).toEqual({});
  });
  it('parses the legacy Governor connection string', () => {
    const m = Member.fromNode(1, 'n', null, 'postgres://u:p@10.0.0.1:5432/postgres?application_name=http://10.0.0.1:8008/patroni');
    expect(m.connUrl).toBe('postgres://u:p@10.0.0.1:5432/postgres');
    expect(m.apiUrl).toBe('http://10.0.0.1:8008/patroni');
  });
  it('reports patroni_version as a tuple', () => {
    expect(Member.fromNode(1, '', '', '{"version":"1.2.3"}').patroniVersion).toEqual([1, 2, 3]);
    expect(Member.fromNode(1, '', '', '{"version":"z"}').patroniVersion).toBeNull();
  });
  it('builds conn_kwargs from conn_url and merges auth (username -> user, nulls dropped)', () => {
    const m = Member.fromNode(1, 'n', null, '{"conn_url":"postgres://10.0.0.1:5433/postgres"}');
    expect(m.connKwargs()).toEqual({ host: '10.0.0.1', port: 5433, dbname: 'postgres' });
    expect(m.connKwargs({ username: 'rep', password: 'x', sslmode: null })).toEqual({ host: '10.0.0.1', port: 5433, dbname: 'postgres', user: 'rep', password: 'x' });
    expect(Member.fromNode(1, 'n', null, '{"conn_url":"postgres://h/db"}').connKwargs()).toMatchObject({ port: 5432 });
    expect(Member.fromNode(1, 'n', null, '{}').connKwargs({ username: 'x' })).toEqual({});
  });
  it('prefers conn_kwargs from data and derives conn_url from it', () => {
    const m = Member.fromNode(1, 'n', null, '{"conn_kwargs":{"host":"h1","port":5000,"dbname":"db"}}');
    expect(m.connKwargs()).toEqual({ host: 'h1', port: 5000, dbname: 'db' });
    expect(m.connUrl).toBe('postgresql://h1:5000/');
  });
  it('interprets tags like Patroni', () => {
    const tags = (t: object) => Member.fromNode(1, 'n', null, JSON.stringify({ tags: t }));
    expect(tags({ nofailover: true }).nofailover).toBe(true);
    expect(tags({ failover_priority: 0 }).nofailover).toBe(true);
    expect(tags({ failover_priority: '2' }).failoverPriority).toBe(2);
    expect(tags({ nofailover: false, failover_priority: 0 }).nofailover).toBe(false);
    expect(tags({ nofailover: true, failover_priority: 5 }).failoverPriority).toBe(0);
    expect(tags({}).failoverPriority).toBe(1);
    expect(tags({ replicatefrom: 'a' }).replicatefrom).toBe('a');
    const clone = Member.fromNode(1, 'n', null, '{"tags":{"clonefrom":true},"conn_url":"postgres://h/db","state":"running"}');
    expect(clone.clonefrom).toBe(true);
    expect(tags({ clonefrom: true }).clonefrom).toBe(false); // no conn_url
  });
});

describe('Leader.checkpointAfterPromote', () => {
  it('is null for unknown or old versions', () => {
    expect(new Leader(1, '', Member.fromNode(1, '', '', '{"version":"z"}')).checkpointAfterPromote).toBeNull();
    expect(new Leader(1, '', Member.fromNode(1, '', '', '{"version":"1.5.6","role":"master"}')).checkpointAfterPromote).toBeNull();
  });
  it('is true for a primary that no longer flags a pending checkpoint', () => {
    expect(new Leader(1, '', Member.fromNode(1, '', '', '{"version":"3.0.2","role":"master"}')).checkpointAfterPromote).toBe(true);
    expect(new Leader(1, '', Member.fromNode(1, '', '', '{"version":"4.0.0","role":"primary","checkpoint_after_promote":false}')).checkpointAfterPromote).toBe(false);
    expect(new Leader(1, '', Member.fromNode(1, '', '', '{"version":"4.0.0","role":"replica"}')).checkpointAfterPromote).toBe(false);
  });
});

describe('ClusterConfig.fromNode', () => {
  it('is never null, even for malformed JSON', () => {
    const c = ClusterConfig.fromNode(1, '{');
    expect(c).not.toBeNull();
    expect(c.data).toEqual({});
    expect(c.modifyVersion).toBe(0);
  });
  it('reads permanent slots under any of their names', () => {
    expect(ClusterConfig.fromNode(1, '{"slots":{"a":{}}}').permanentSlots).toEqual({ a: {} });
    expect(ClusterConfig.fromNode(1, '{"permanent_slots":{"b":null}}').permanentSlots).toEqual({ b: null });
    expect(ClusterConfig.fromNode(2, '{"ttl":30}', 7).modifyVersion).toBe(7);
  });
});

describe('Failover.fromNode', () => {
  it.each([
    ['{"leader": "cluster_leader"}', 'cluster_leader', null],
    [{ leader: 'cluster_leader' }, 'cluster_leader', null],
    ['{"leader": "cluster_leader", "member": "cluster_candidate"}', 'cluster_leader', 'cluster_candidate'],
  ])('parses %j', (value, leader, candidate) => {
    const f = Failover.fromNode(1, value);
    expect(f).toBeInstanceOf(Failover);
    expect([f.leader, f.candidate]).toEqual([leader, candidate]);
  });
  it('is never null: null, None and {} give an empty failover', () => {
    for (const v of ['null', null, '{}']) {
      const f = Failover.fromNode(1, v);
      expect(f).not.toBeNull();
      expect(f.size).toBe(0);
    }
  });
  it('parses scheduled_at with its timezone', () => {
    const f = Failover.fromNode(1, '{"leader": "cluster_leader", "member": "cluster_candidate", "scheduled_at": "2016-01-14T10:09:57.1394Z"}');
    expect(f.scheduledAt!.offsetMinutes).toBe(0);
    expect(f.scheduledAt!.date.toISOString()).toBe('2016-01-14T10:09:57.139Z');
    const g = Failover.fromNode(1, '{"scheduled_at":"2024-01-01T12:00:00+02:00","member":"x"}');
    expect(g.scheduledAt!.offsetMinutes).toBe(120);
    expect(g.scheduledAt!.date.toISOString()).toBe('2024-01-01T10:00:00.000Z');
  });
  it('accepts the legacy leader:candidate string', () => {
    const f = Failover.fromNode(1, 'abc:def');
    expect(f.includes('abc')).toBe(true);
    expect([f.leader, f.candidate]).toEqual(['abc', 'def']);
    expect(Failover.fromNode(1, 'abc').candidate).toBeNull();
  });
});

describe('SyncState', () => {
  it.each([[null], ['{}'], ['{'], ['[]']])('fromNode(%j) has no leader', (v) => {
    expect(SyncState.fromNode(1, v).leader).toBeNull();
  });
  it('reads the leader from a string or a dict', () => {
    expect(SyncState.fromNode(1, '{"leader": "leader"}').leader).toBe('leader');
    expect(SyncState.fromNode(1, { leader: 'leader' }).leader).toBe('leader');
    expect(SyncState.fromNode(1, '{"leader":"a","sync_standby":"b","quorum":1}').quorum).toBe(1);
  });
  it('matches names case-insensitively, the leader only when asked', () => {
    const s = new SyncState(1, 'foo', 'bar,zoo');
    expect(s.matches('foo')).toBe(false);
    expect(s.matches('fOo', true)).toBe(true);
    expect(s.matches('Bar')).toBe(true);
    expect(s.matches('zoO')).toBe(true);
    expect(s.matches('baz')).toBe(false);
    expect(s.matches(null)).toBe(false);
    expect(SyncState.empty(1).matches('foo')).toBe(false);
    expect(s.members).toEqual(['bar', 'zoo']);
    expect(s.leaderMatches('FOO')).toBe(true);
  });
});

describe('Status.fromNode', () => {
  it('parses optime, slots and retain_slots', () => {
    const s = Status.fromNode('{"optime":100,"slots":{"a":5},"retain_slots":["x"]}');
    expect([s.lastLsn, s.slots, s.retainSlots]).toEqual([100, { a: 5 }, ['x']]);
  });
  it('reads the legacy integer and tolerates garbage', () => {
    expect(Status.fromNode('12345').lastLsn).toBe(12345);
    expect(Status.fromNode('{').lastLsn).toBe(0);
    expect(Status.fromNode('[1]').lastLsn).toBe(0);
    expect(Status.fromNode('{"optime":"x","slots":[]}')).toMatchObject({ lastLsn: 0, slots: null });
  });
});

describe('TimelineHistory and Cluster.timeline', () => {
  it('has no lines when the value does not parse', () => {
    expect(TimelineHistory.fromNode(1, 2).lines).toEqual([]);
  });
  it('is 0 without history, 1 for [], 0 when invalid, last + 1 otherwise', () => {
    expect(new Cluster().timeline).toBe(0);
    expect(new Cluster({ history: TimelineHistory.fromNode(1, '[]') }).timeline).toBe(1);
    expect(new Cluster({ history: TimelineHistory.fromNode(1, '[["a"]]') }).timeline).toBe(0);
    expect(new Cluster({ history: TimelineHistory.fromNode(1, '[["3", "2", "1"]]') }).timeline).toBe(4);
    expect(new Cluster({ history: TimelineHistory.fromNode(1, '[[1,25623960,"no recovery target specified","2019-09-23T16:57:57+02:00","node2"]]') }).timeline).toBe(2);
  });
});

describe('slotNameFromMemberName and parseConnectionString', () => {
  it('maps member names to valid slot names', () => {
    expect(slotNameFromMemberName('Node-1.example')).toBe('node_1_example');
    expect(slotNameFromMemberName('a b')).toBe('au0020b');
    expect(slotNameFromMemberName('ü')).toBe('u00fc');
    expect(slotNameFromMemberName('x'.repeat(80))).toHaveLength(63);
  });
  it('splits the api_url out of application_name', () => {
    expect(parseConnectionString('postgres://h/db?application_name=http://a/patroni')).toEqual(['postgres://h/db', 'http://a/patroni']);
    expect(parseConnectionString('postgres://h/db')).toEqual(['postgres://h/db', null]);
  });
});
