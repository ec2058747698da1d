import { describe, expect, it } from 'vitest';
import { GRPCCancelledError, GRPCUnavailableError } from 'etcd3';
import { HostSkipper } from './host-skip.js';

function setup() {
  let t = 0;
  const skipper = new HostSkipper(() => t, 1000);
  const hosts = ['a', 'b', 'c'];
  const policies = Object.fromEntries(hosts.map((h) => [h, skipper.policyFor(h)]));
  const fail = (h: string, e: Error = new GRPCUnavailableError('etcdserver: no leader')) =>
    policies[h]!.execute(() => { throw e; }).catch(() => undefined);
  const ok = (h: string) => policies[h]!.execute(() => 'ok');
  return { skipper, policies, fail, ok, advance: (ms: number) => { t += ms; } };
}

describe('HostSkipper', () => {
  it('skips a host that just failed while another host has not', async () => {
    const s = setup();
    await s.fail('a');
    await expect(s.ok('a')).rejects.toMatchObject({ isBrokenCircuitError: true });
    expect(await s.ok('b')).toBe('ok');
    s.advance(1000);
    expect(await s.ok('a')).toBe('ok');
  });

  it('skips nobody when every host failed recently (an etcd election answers "no leader" everywhere)', async () => {
    const s = setup();
    for (const h of ['a', 'b', 'c']) await s.fail(h);
    for (const h of ['a', 'b', 'c']) expect(s.skipper.shouldSkip(h)).toBe(false);
    expect(await s.ok('b')).toBe('ok');
    // b answered again: a and c are skipped in its favour until their second is over.
    expect(s.skipper.shouldSkip('a')).toBe(true);
    expect(s.skipper.shouldSkip('b')).toBe(false);
  });

  it('does not count our own cancellation of a stream against the host', async () => {
    const s = setup();
    await s.fail('a', new GRPCCancelledError('Cancelled on client'));
    expect(s.skipper.shouldSkip('a')).toBe(false);
  });

  it('does not count an answer from etcd that is not about reaching it (e.g. permission denied)', async () => {
    const s = setup();
    await s.fail('a', new Error('etcdserver: permission denied'));
    expect(s.skipper.shouldSkip('a')).toBe(false);
  });
});
