import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { runDcsConformance } from '@pgha/core/testing';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { conformanceTarget } from './harness.js';

// The kit against a 3-member cluster; halfway through, the raft leader is SIGKILLed and the rest
// of the kit runs with one endpoint of every driver's `hosts` dead.
const KILL_BEFORE_TEST = 6;

let etcd: EtcdCluster;
let started = 0;
let killed = -1;
beforeAll(async () => { etcd = await startEtcd({ members: 3 }); });
afterAll(async () => { await etcd?.stop(); });

beforeEach(async () => {
  if (++started !== KILL_BEFORE_TEST) return;
  killed = await etcd.leaderIndex();
  await etcd.kill(killed);
  await etcd.waitHealthy(15_000);
  expect(await etcd.leaderIndex()).not.toBe(killed);
});

afterAll(() => {
  // Guard against the kit shrinking below the kill point: then nothing ran degraded.
  expect(killed).toBeGreaterThanOrEqual(0);
});

runDcsConformance('etcd3 (3 members, leader killed mid-suite)', () => conformanceTarget(() => etcd));
