/**
 * The DCS conformance kit against the Consul emulator, as real Consul behaves (sessions expire at
 * 2 × TTL) and at its earliest allowed expiry (exactly TTL), with ACLs on. session_ttl_min is lowered
 * to 1 s (a Consul agent setting) so ttl 4 (session TTL 2 s) keeps the suite short.
 */
import { afterAll, beforeAll } from 'vitest';
import { runDcsConformance } from '@pgha/core/testing';
import { startConsulEmulator, type EmulatorProcess } from './emulator/process.js';
import { conformanceTarget } from './harness.js';

let real: EmulatorProcess;
let earliest: EmulatorProcess;
beforeAll(async () => {
  [real, earliest] = await Promise.all([
    startConsulEmulator({ sessionTtlMin: '1s', aclToken: 'conf-token' }),
    startConsulEmulator({ sessionTtlMin: '1s', ttlMultiplier: 1 }),
  ]);
});
afterAll(async () => { await Promise.all([real?.stop(), earliest?.stop()]); });

runDcsConformance('consul (emulator, ACL token, expiry at 2 x session TTL)', () => conformanceTarget(() => real, 4, { token: 'conf-token' }));
runDcsConformance('consul (emulator, earliest expiry: exactly the session TTL)', () => conformanceTarget(() => earliest, 4));
