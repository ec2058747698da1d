/**
 * Issue 22: hostile DCS values. Each value here once ended every agent or triggered an action
 * nobody asked for; now it parses tolerantly, is reported once, and requests nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildCluster } from '../dcs/cluster-builder.js';
import { effectiveConfig } from '../config/effective.js';
import { JSON_LIMITS, parseJsonBounded, setOwn } from '../util/json.js';
import { setMalformedSink } from './malformed.js';
import { Member } from './member.js';
import { fileSafeName, memberNameProblem } from './names.js';
import { parseZonedTime } from './timestamp.js';
import { Failover, Status } from './values.js';

const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const node = (key: string, value: string, version = 1) => ({ key, value, version, session: null });

let reports: Array<[string, string]> = [];
afterEach(() => { setMalformedSink(null); reports = []; });
const collect = () => setMalformedSink((k, r) => reports.push([k, r]));

describe('bounded JSON', () => {
  it('refuses depth and size beyond the limits, with the reason; strings with brackets do not count', () => {
    expect(parseJsonBounded(deep(10_000))).toEqual({ ok: false, reason: `nested deeper than ${JSON_LIMITS.maxDepth} levels` });
    expect(parseJsonBounded('['.repeat(100_000) + ']'.repeat(100_000)).ok).toBe(false);
    expect(parseJsonBounded(deep(JSON_LIMITS.maxDepth))).toMatchObject({ ok: true });
    expect(parseJsonBounded(JSON.stringify({ s: '{'.repeat(1000) + '\\"[[[' }))).toMatchObject({ ok: true });
    expect(parseJsonBounded(JSON.stringify({ s: 'x'.repeat(2000) }), { maxBytes: 1000 })).toEqual({ ok: false, reason: 'larger than 1000 bytes' });
    expect(parseJsonBounded('{"a":')).toMatchObject({ ok: false, reason: expect.stringContaining('not valid JSON') });
  });

  it('setOwn never replaces a prototype', () => {
    const o: Record<string, unknown> = {};
    setOwn(o, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(JSON.stringify(o)).toBe('{"__proto__":{"polluted":true}}');
  });
});

describe('hostile DCS values (defect 1: one value killed every agent)', () => {
  it('a 10,000-deep /config reads as no configuration, is reported once, and the effective config survives', () => {
    collect();
    const nodes = [node('config', deep(10_000)), node('leader', 'node1'), node('members/node1', '{"role":"primary"}')];
    for (let i = 0; i < 3; i++) {
      const c = buildCluster(nodes);
      expect(c.config?.data).toEqual({});
      expect(c.config?.modifyVersion).toBe(0);
      // what crashed the agents: cloning/validating the parsed value
      expect(() => effectiveConfig({ name: 'n', scope: 's', postgresql: { data_dir: '/d' } }, c.config!.data)).not.toThrow();
    }
    expect(reports).toEqual([['config', `nested deeper than ${JSON_LIMITS.maxDepth} levels`]]);
  });

  it('every key tolerates deep, huge, wrong-typed and binary values', () => {
    const bad = [deep(5000), 'x'.repeat(2 * 1024 * 1024), '[]', '"str"', '1e999', 'null', '\u0000\uffff', '{"conn_kwargs":{"host":{"x":1},"port":[]}}',
      '{"slots":{"a":"x","b":-1,"c":5}}', '{"scheduled_at":{}}', '[[1,2],[{"a":1}],"x"]', '{"__proto__":{"polluted":1}}'];
    for (const v of bad) {
      const keys = ['config', 'leader', 'failover', 'sync', 'status', 'history', 'failsafe', 'initialize', 'optime/leader', 'members/node1', 'members/x'];
      const c = buildCluster(keys.map((k) => node(k, v)));
      expect(() => JSON.stringify({ m: c.members.map((m) => [m.connUrl, m.apiUrl, m.lsn, m.timeline, m.connKwargs({ username: 'u' })]), t: c.timeline, s: c.status, f: c.failsafe })).not.toThrow();
      expect(c.getReplicationSlots('node1', 'primary', false, 150000)).toBeTypeOf('object');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Status.fromNode('{"optime":5,"slots":{"a":"x","b":-1,"c":5}}').slots).toEqual({ c: 5 });
    expect(Member.fromNode(1, 'n', null, '{"conn_kwargs":{"host":{"x":1}}}').connUrl).toBeNull();
  });
});

describe('strict times (defect 2: an unparseable scheduled_at switched over at once)', () => {
  it.each(['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z', '2099-02-30T10:00:00Z', '2099-01-01T24:00:00Z',
    '2099-01-01T10:60:00Z', '2099-01-01T10:00:60Z', '2099-01-01T10:00:00+24:00', '2099-01-01T10:00:00+05:60', '2099-01-01T10:00:00+5', 'now', ''])('%j is not a time', (t) => {
    expect(parseZonedTime(t)).toBeNull();
  });
  it('valid times keep their offset; leap days exist only in leap years', () => {
    expect(parseZonedTime('2024-02-29T23:59:59.5-09:30')).toEqual({ date: new Date('2024-03-01T09:29:59.500Z'), offsetMinutes: -570 });
    expect(parseZonedTime('2023-02-29T10:00:00Z')).toBeNull();
    expect(parseZonedTime('0099-01-01T00:00:00Z')?.date.toISOString()).toBe('0099-01-01T00:00:00.000Z');
  });
  it('a /failover with an invalid scheduled_at requests nothing and is reported once', () => {
    collect();
    for (const sched of ['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z', 'tomorrow', 42, { x: 1 }]) {
      const f = Failover.fromNode(1, JSON.stringify({ leader: 'node1', member: 'node2', scheduled_at: sched }));
      expect([f.size, f.leader, f.candidate, f.scheduledAt]).toEqual([0, null, null, null]);
      expect(f.malformed).toContain('scheduled_at');
      Failover.fromNode(1, JSON.stringify({ leader: 'node1', member: 'node2', scheduled_at: sched }));
    }
    expect(reports.length).toBe(5);
    expect(Failover.fromNode(1, '{"leader":"node1","scheduled_at":"2099-01-01T10:00:00+01:00"}').size).toBe(1);
    expect(Failover.fromNode(1, 'node1:node2')).toMatchObject({ leader: 'node1', candidate: 'node2' });
    expect(Failover.fromNode(1, deep(3000)).size).toBe(0); // not taken for a legacy "a:b" value
  });
});

describe('member names (defect 7: used in paths unchecked)', () => {
  it('refuses what cannot be one DCS key segment, and the placeholder', () => {
    for (const n of ['evil/../../x', 'a\nb', '', '..', 'x'.repeat(256), '__patroni_strict_sync_replica_placeholder__', 'tab\there']) expect(memberNameProblem(n)).not.toBeNull();
    for (const n of ['node1', 'pg-0.example', 'Ünïcode name', 'postgresql0']) expect(memberNameProblem(n)).toBeNull();
  });
  it('file-safe names never contain separators or dots', () => {
    expect(fileSafeName('evil/../../x')).toBe('evil%2F%2E%2E%2F%2E%2E%2Fx');
    expect(fileSafeName('node-1_a')).toBe('node-1_a');
    expect(fileSafeName('..')).not.toContain('.');
  });
});

describe('dynamic configuration problems are reported (defect 8: invalid ttl ignored silently)', () => {
  it('logs an invalid or too small ttl from /config once', () => {
    collect();
    const local = { name: 'n', scope: 's', postgresql: { data_dir: '/d' } };
    for (let i = 0; i < 3; i++) effectiveConfig(local, { ttl: 'abc', loop_wait: 10 });
    expect(reports).toEqual([['config (settings)', 'dynamic configuration: ttl: expected number (ignored)']]);
    effectiveConfig(local, { ttl: 5 });
    expect(reports[1]![1]).toContain("ttl=5 can't be smaller than 20");
  });
});
