/** Patroni's pre_promote failure: the lock is released at once and this node stays out of the race for a ttl. */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { isHealthiestNode } from './health.js';
import { runningReplica, scenario } from './scenario.js';

describe('a failed pre_promote script', () => {
  it('releases the lock and backs off for ttl seconds instead of running the script again', () => {
    const input = scenario({ pg: runningReplica, memory: { prePromoteFailed: true }, settings: { ttl: 30 } });
    const { plan: p, memory } = decide(input);
    expect(p.message).toBe('Promotion cancelled because the pre-promote script failed');
    expect(p.actions.map((a) => a.type).filter((t) => t !== 'sync_slots' && t !== 'stand_down_fence')).toEqual(['update_lock', 'release_lock']);
    expect(memory).toMatchObject({ prePromoteFailed: false, prePromoteBackoffUntil: input.monotonic + 30_000 });
    expect(p.actions.some((a) => a.type === 'promote')).toBe(false);
  });

  it('is learnt from the promote long action failing with PrePromoteFailed (an event)', () => {
    const done = { type: 'long_action_done', name: 'promote', ok: false, failure: 'PrePromoteFailed' } as const;
    expect(decide({ ...scenario({ pg: runningReplica }), events: [done] }).plan.message).toBe('Promotion cancelled because the pre-promote script failed');
    const other = { type: 'long_action_done', name: 'promote', ok: false } as const;
    expect(decide({ ...scenario({ pg: runningReplica }), events: [other] }).plan.message).not.toMatch(/pre-promote/);
  });

  it('keeps the node out of the leader race until the backoff ends', () => {
    const unlocked = { me: 'node1', leader: null, pg: runningReplica };
    const backing = scenario({ ...unlocked, memory: { prePromoteBackoffUntil: 10_000 } });
    const during = { ...backing, monotonic: 9_999 };
    expect(isHealthiestNode(during, during.cluster!)).toEqual({ ok: false, reason: 'backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily' });
    const after = { ...backing, monotonic: 10_000 };
    expect(isHealthiestNode(after, after.cluster!).reason).not.toMatch(/backoff/);
  });

  it('in pause the lock is kept (nothing is promoted automatically anyway)', () => {
    const p = decide(scenario({ pg: runningReplica, memory: { prePromoteFailed: true }, settings: { paused: true } })).plan;
    expect(p.message).not.toMatch(/pre-promote/);
  });
});
