import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { runDcsConformance } from '@pgha/core/testing';
import { startZookeeper, type ZkEnsemble } from '../helpers/zookeeper.js';
import { conformanceTarget } from './harness.js';

// The kit against a 3-member ensemble; halfway through, the quorum leader is SIGKILLed and the
// rest of the kit runs with one host of every driver's `hosts` dead.
const KILL_BEFORE_TEST = 6;

let ensemble: ZkEnsemble;
let started = 0;
let killed = -1;
beforeAll(async () => { ensemble = await startZookeeper({ members: 3 }); });
afterAll(async () => { await ensemble?.stop(); });

beforeEach(async () => {
  if (++started !== KILL_BEFORE_TEST) return;
  killed = await ensemble.leaderIndex();
  await ensemble.kill(killed);
  await ensemble.waitHealthy(30_000);
  expect(await ensemble.leaderIndex()).not.toBe(killed);
});

afterAll(() => {
  // Guard against the kit shrinking below the kill point: then nothing ran degraded.
  expect(killed).toBeGreaterThanOrEqual(0);
});

runDcsConformance('zookeeper (3 members, leader killed mid-suite)', () => conformanceTarget(() => ensemble));
