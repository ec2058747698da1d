import { describe, expect, it } from 'vitest';
import type { KvCommand } from './commands.js';
import { KvState } from './state.js';

let rid = 0;
const run = (s: KvState, index: number, cmd: KvCommand, id = `r${++rid}`) => s.apply(JSON.stringify({ rid: id, cmd }), index);

describe('KvState', () => {
  it('versions are raft indexes; CAS by index and by value; create-if-absent', () => {
    const s = new KvState();
    expect(run(s, 1, { op: 'set', key: 'a', value: 'x', ttlMs: null, ifAbsent: true })).toEqual({ ok: true, index: 1 });
    expect(run(s, 2, { op: 'set', key: 'a', value: 'y', ttlMs: null, ifAbsent: true }).ok).toBe(false);
    expect(run(s, 3, { op: 'set', key: 'a', value: 'y', ttlMs: null, prevIndex: 2 }).ok).toBe(false);
    expect(run(s, 4, { op: 'set', key: 'a', value: 'y', ttlMs: null, prevIndex: 1 })).toEqual({ ok: true, index: 4 });
    expect(run(s, 5, { op: 'set', key: 'a', value: 'z', ttlMs: null, prevValue: 'x' }).ok).toBe(false);
    expect(run(s, 6, { op: 'del', key: 'a', prevValue: 'y' }).ok).toBe(true);
    expect(s.get('a')).toBeUndefined();
    expect(run(s, 7, { op: 'del', key: 'a' }).ok).toBe(false);
  });

  it('prefix reads and deletes touch only the prefix', () => {
    const s = new KvState();
    run(s, 1, { op: 'set', key: '/s/a/x', value: '1', ttlMs: null });
    run(s, 2, { op: 'set', key: '/s/a/y', value: '2', ttlMs: null });
    run(s, 3, { op: 'set', key: '/s/b/x', value: '3', ttlMs: null });
    expect(s.list('/s/a/').map((e) => e.key)).toEqual(['/s/a/x', '/s/a/y']);
    run(s, 4, { op: 'delPrefix', prefix: '/s/a/' });
    expect(s.list('/s/').map((e) => e.key)).toEqual(['/s/b/x']);
  });

  it('expire removes only the version it names, once', () => {
    const s = new KvState();
    const changes: string[] = [];
    s.events.on('change', (c) => changes.push(`${c.key}:${c.cause}`));
    run(s, 1, { op: 'set', key: 'l', value: 'n1', ttlMs: 100 });
    run(s, 2, { op: 'set', key: 'l', value: 'n1', ttlMs: 100, prevValue: 'n1' }); // refresh: new version
    expect(run(s, 3, { op: 'expire', key: 'l', index: 1 }).ok).toBe(false);
    expect(s.get('l')?.index).toBe(2);
    expect(run(s, 4, { op: 'expire', key: 'l', index: 2 }).ok).toBe(true);
    expect(run(s, 5, { op: 'expire', key: 'l', index: 2 }).ok).toBe(false);
    expect(changes).toEqual(['l:set', 'l:set', 'l:expire']);
  });

  it('a retried request id applies once and reports its first result', () => {
    const s = new KvState();
    expect(run(s, 1, { op: 'set', key: 'k', value: 'a', ttlMs: null, ifAbsent: true }, 'same')).toEqual({ ok: true, index: 1 });
    expect(run(s, 2, { op: 'set', key: 'k', value: 'a', ttlMs: null, ifAbsent: true }, 'same')).toEqual({ ok: true, index: 1 });
    expect(s.get('k')?.index).toBe(1);
  });

  it('snapshot and restore round-trip, including the de-duplication window', () => {
    const s = new KvState();
    run(s, 1, { op: 'set', key: 'k', value: 'a', ttlMs: 5 }, 'once');
    const t = new KvState();
    t.restore(s.snapshot());
    expect(t.list('')).toEqual(s.list(''));
    expect(run(t, 2, { op: 'set', key: 'k', value: 'b', ttlMs: null }, 'once')).toEqual({ ok: true, index: 1 });
    expect(t.get('k')?.value).toBe('a');
  });
});
