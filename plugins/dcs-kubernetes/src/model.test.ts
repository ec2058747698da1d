import { describe, expect, it } from 'vitest';
import { resolveSettings, kubernetesConfigSchema } from './config.js';
import { RecordObserver, failoverAnnotations, isoTime, uniqueIsoTime, leaderRecord, objectNames, roleLabels, statusAnnotations, syncAnnotations, toNodes } from './model.js';

const settings = (c: Record<string, unknown> = {}) => resolveSettings(kubernetesConfigSchema.parse(c), 'demo');

describe("Patroni's Kubernetes model", () => {
  it('names the objects as Patroni does in both layouts', () => {
    expect(objectNames('demo', false)).toEqual({ config: 'demo-config', leader: 'demo-leader', failover: 'demo-failover', sync: 'demo-sync' });
    expect(objectNames('demo', true).leader).toBe('demo');
  });

  it('labels the Pod by role: leader, standby leader, replica, none; tmp and bootstrap labels', () => {
    const s = settings({ tmp_role_label: 'tmp', bootstrap_labels: { boot: 'yes' } });
    expect(roleLabels({ role: 'primary', state: 'running' }, true, s)).toEqual({ role: 'primary', tmp: 'primary', boot: null });
    expect(roleLabels({ role: 'standby_leader', state: 'running' }, true, settings({ standby_leader_label_value: 'sl' }))).toEqual({ role: 'sl' });
    expect(roleLabels({ role: 'replica', state: 'running' }, false, s)).toEqual({ role: 'replica', tmp: 'replica', boot: null });
    expect(roleLabels({ role: 'replica', state: 'creating replica' }, false, s)).toEqual({ role: null, tmp: null, boot: 'yes' });
    // A primary that lost the leader key is not labelled primary any more.
    expect(roleLabels({ role: 'primary', state: 'running' }, false, s)).toEqual({ role: null, tmp: null, boot: null });
    expect(roleLabels({ role: 'primary', state: 'running' }, true, settings({ leader_label_value: 'master' }))).toEqual({ role: 'master' });
  });

  it('maps values to annotations and back', () => {
    expect(failoverAnnotations('{"leader":"a","member":"b"}')).toEqual({ leader: 'a', member: 'b', scheduled_at: null });
    expect(failoverAnnotations('a:b')).toEqual({ leader: 'a', member: 'b', scheduled_at: null });
    expect(failoverAnnotations('{}')).toEqual({ leader: null, member: null, scheduled_at: null });
    expect(syncAnnotations('{"leader":"a","sync_standby":"b,c","quorum":1}')).toEqual({ leader: 'a', sync_standby: 'b,c', quorum: '1' });
    expect(syncAnnotations('[]')).toEqual({ leader: null, sync_standby: null, quorum: null });
    expect(statusAnnotations('{"optime":5,"slots":{"s":1},"retain_slots":["a"]}')).toEqual({ optime: '5', slots: '{"s":1}', retain_slots: '["a"]' });
    expect(statusAnnotations('{"optime":5}')).toEqual({ optime: '5', slots: null });
    const names = objectNames('demo', false);
    const obj = (name: string, rv: string, annotations: Record<string, string>) => ({ metadata: { name, resourceVersion: rv, annotations } });
    const nodes = toNodes(names, {
      kinds: new Map([
        ['demo-config', obj('demo-config', '7', { config: '{"ttl":30}', initialize: '123' })],
        ['demo-leader', obj('demo-leader', '9', { leader: 'n1', optime: '100', slots: '{"n2":5}', failsafe: '{"n1":"u"}' })],
        ['demo-sync', obj('demo-sync', '11', { leader: 'n1', sync_standby: 'n2', quorum: '0' })],
      ]),
      pods: [obj('n1', '3', { status: '{"role":"primary"}' }), obj('n2', '4', {})],
    }, { leader: 'n1', livePods: new Set(['n1']) });
    expect(nodes).toEqual(expect.arrayContaining([
      { key: 'config', value: '{"ttl":30}', version: '7' },
      { key: 'initialize', value: '123', version: '7' },
      { key: 'status', value: '{"optime":"100","slots":{"n2":5}}', version: '9' },
      { key: 'failsafe', value: '{"n1":"u"}', version: '9' },
      { key: 'leader', value: 'n1', version: '9' },
      { key: 'sync', value: '{"leader":"n1","sync_standby":"n2","quorum":0}', version: '11' },
      { key: 'members/n1', value: '{"role":"primary"}', version: '3' },
    ]));
    expect(nodes.find((n) => n.key === 'members/n2')).toBeUndefined();
  });

  it('judges expiry from when this client saw the record change, not from the written times', () => {
    const o = new RecordObserver();
    const rec = (renew: string) => leaderRecord({ metadata: { annotations: { leader: 'a', renewTime: renew, ttl: '30' } } });
    expect(o.observe('leader', rec('t1'), 1000)).toBe(1000);
    expect(o.observe('leader', rec('t1'), 5000)).toBe(1000);
    expect(o.observe('leader', rec('t2'), 6000)).toBe(6000);
    // Annotations outside the record (optime) do not restart the clock.
    expect(leaderRecord({ metadata: { annotations: { leader: 'a', renewTime: 't2', ttl: '30', optime: '1' } } })).toBe(rec('t2'));
  });

  it("writes times as Python's isoformat with microseconds", () => {
    expect(isoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toMatch(/^2026-01-02T03:04:05\.678\d{3}\+00:00$/);
    // Renewals never repeat a renewTime, even within one microsecond: the record always changes.
    const stamps = Array.from({ length: 1000 }, () => uniqueIsoTime());
    expect(new Set(stamps).size).toBe(1000);
    expect([...stamps].sort()).toEqual(stamps);
    expect(Math.abs(Date.parse(stamps[0]!) - Date.now())).toBeLessThan(5000);
  });
});
