/**
 * The handover releases the leader key once a member that may take over has the shutdown
 * checkpoint. In synchronous mode that is a member listed in `/sync`: an asynchronous member with the
 * checkpoint does not count (the synchronous standby would promote without it, and the asynchronous
 * one would then have diverged by that record and need a rewind and a restart).
 */
import { describe, expect, it } from 'vitest';
import type { Dcs } from '../dcs/facade.js';
import { scenario } from '../ha/scenario.js';
import { silentLogger } from '../log.js';
import { handover, type HandoverOptions } from './handover.js';

const CHECKPOINT = 5000;
const members: Array<[string, Record<string, unknown>]> = ['node1', 'node2', 'node3'].map((n) => [n, { api_url: `http://${n}/patroni` }]);
const cluster = scenario({ members, sync: { leader: 'node1', sync_standby: 'node2' } }).cluster!;

/** A handover whose peers report `positions` (received WAL) from their GET /patroni; resolves with what it released. */
function run(positions: Record<string, number>, o: Partial<HandoverOptions> = {}) {
  const released: string[] = [];
  const http = (async (url: string | URL | Request) => {
    const name = new URL(String(url)).hostname;
    return new Response(JSON.stringify({ role: 'replica', xlog: { received_location: positions[name] ?? 0, replayed_location: 0 } }));
  }) as typeof fetch;
  const dcs = { deleteLeader: async () => { released.push('deleted'); return true; } } as unknown as Dcs;
  const h = handover({ name: 'node1', dcs, http, logger: silentLogger, cluster, pollMs: 1, ...o });
  return { h, released };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('handover of the leader key at shutdown', () => {
  it('asynchronous mode: any member with the checkpoint lets the key go', async () => {
    const { h, released } = run({ node3: CHECKPOINT + 100 });
    await h.onShutdown(CHECKPOINT);
    await settle();
    expect(released).toEqual(['deleted']);
  });

  it('synchronous mode: an asynchronous member with the checkpoint does not; the synchronous standby does', async () => {
    const positions: Record<string, number> = { node3: CHECKPOINT + 100 };
    const { h, released } = run(positions, { syncOnly: true });
    await h.onShutdown(CHECKPOINT);
    await settle();
    expect(released).toEqual([]);
    positions.node2 = CHECKPOINT + 100;
    await settle();
    expect(released).toEqual(['deleted']);
    expect(h.released).toBe(true);
  });

  it('a named candidate is the only one that counts, listed in /sync or not', async () => {
    const { h, released } = run({ node2: CHECKPOINT + 100, node3: CHECKPOINT + 100 }, { syncOnly: true, candidate: 'node3' });
    await h.onShutdown(CHECKPOINT);
    await settle();
    expect(released).toEqual(['deleted']);
  });

  it('nobody has it before PostgreSQL stops: released then', async () => {
    const { h, released } = run({}, { syncOnly: true });
    await h.onShutdown(CHECKPOINT);
    await settle();
    expect(released).toEqual([]);
    await h.finish(CHECKPOINT);
    expect(released).toEqual(['deleted']);
  });
});
