/**
 * Adversarial DCS values, per key. Every value is malformed for its key or requests nothing: none
 * names a real member in a usable request (a well-formed `/failover` naming the leader *is* a
 * legitimate switchover request, so the ones here always carry an unreadable schedule or bad types).
 * `/initialize` never gets an all-digit value: a different system identifier is Patroni's signal
 * that the data belongs to another cluster, which ends the agent on purpose.
 */
import { deepArray, deepObject, type Rng } from './rng.js';

const GENERIC = (rng: Rng): string[] => [
  deepObject(10_000), deepArray(100_000), deepObject(65), '{"a":' + 'x'.repeat(70_000),
  JSON.stringify({ big: 'x'.repeat(1_100_000) }), '', 'null', '[]', '"str"', '1e999', '-1', 'true',
  '{', '{"a":1}{"b":2}', '\u0000\u0001\uffff', 'line\nbreak', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}',
  rng.text(200), JSON.stringify(rng.json(8)),
];

const BAD_TIMES = ['2099-01-01T10:00:00+99:99', '2099-13-45T99:99:99Z', '2099-02-30T10:00:00+00:00', 'now', '1e999', '2099-01-01T10:00:00+24:00'];

/** Values for each key, by the key relative to the cluster prefix. `leader`/`members` are handled by the campaign. */
export function dcsValues(rng: Rng, key: string, leader: string, replica: string): string[] {
  const g = GENERIC(rng);
  switch (key) {
    case 'config':
      return [...g,
        JSON.stringify({ ttl: 'abc', loop_wait: -5, retry_timeout: 1e308, pause: 'maybe', synchronous_mode: 'x', maximum_lag_on_failover: 'lots' }),
        JSON.stringify({ ttl: [], loop_wait: {}, postgresql: 'x', slots: 'y', ignore_slots: 5, standby_cluster: 7 }),
        JSON.stringify({ ttl: 30, loop_wait: 1, retry_timeout: 5, slots: { 'Bad Name!': { type: 'physical' }, ok_slot: { type: 'quantum' } } }),
        JSON.stringify({ ttl: 30, loop_wait: 1, retry_timeout: 5, check_timeline: 'nope', failsafe_mode: 'perhaps', synchronous_node_count: -3 }),
      ];
    case 'failover':
      return [...g,
        ...BAD_TIMES.map((t) => JSON.stringify({ leader, member: replica, scheduled_at: t })),
        JSON.stringify({ leader, member: replica, scheduled_at: 12345 }),
        JSON.stringify({ leader: { name: leader }, member: replica }),
        JSON.stringify({ leader: [leader], member: [replica] }),
        JSON.stringify({ leader: 'nobody', member: 'ghost' }),
        `nobody:ghost`,
      ];
    case 'sync':
      return [...g,
        JSON.stringify({ leader: 'nobody', sync_standby: replica }),
        JSON.stringify({ leader: 42, sync_standby: [replica], quorum: 'x' }),
        JSON.stringify({ leader, sync_standby: { x: 1 }, quorum: -1 }),
      ];
    case 'status':
      return [...g,
        JSON.stringify({ optime: -1, slots: { x: 'y', z: -5 } }),
        JSON.stringify({ optime: 1e308, slots: [], retain_slots: 'x' }),
        JSON.stringify({ optime: 'abc' }), '99999999999999999999999999',
      ];
    case 'history':
      return [...g, JSON.stringify([[1, 'x', 'y'], 'z', [null], [1e308, -1, {}, [], 5]]), JSON.stringify([['a', 'b']]), JSON.stringify({ a: 1 })];
    case 'failsafe':
      return [...g, JSON.stringify({ [leader]: 5, ghost: 'http://127.0.0.1:1/patroni', [replica]: { x: 1 } })];
    case 'initialize':
      return [...g.filter((v) => !/^\s*\d+\s*$/.test(v)), 'not-a-sysid', '0', '-7268616322854375442', '7268616322854375442x'];
    case 'optime/leader':
      return [...g, '-5', 'NaN', '1'.repeat(400)];
    default: // members/<fake>
      return [...g,
        JSON.stringify({ conn_url: 'postgres://127.0.0.1:1/postgres', api_url: 'http://127.0.0.1:1/patroni', state: 'running', role: 'primary', xlog_location: 1e308, timeline: 99999 }),
        JSON.stringify({ conn_kwargs: { host: { x: 1 }, port: [] }, api_url: 42, tags: 'x', version: '9.9.9.9' }),
        JSON.stringify({ role: 'primary', state: 'running', api_url: 'http://169.254.169.254/latest', tags: { nofailover: 'maybe', failover_priority: 'high', clonefrom: true } }),
        'postgres://%zz@[::1/postgres?application_name=%ff',
      ];
  }
}

export const FUZZED_KEYS = ['config', 'failover', 'sync', 'status', 'history', 'failsafe', 'initialize', 'optime/leader', 'members/fuzz-ghost', 'members/fuzz\u00e9 name'] as const;
