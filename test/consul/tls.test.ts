/**
 * The `consul:` TLS keys against the emulator serving HTTPS with a private CA: `scheme`/`url`,
 * `cacert`, `verify`, and client certificates (`cert`/`key`) when the server verifies clients.
 * A certificate problem is a DcsError at once (DCS_AUTH), not a retry until retry_timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DcsError, ErrorCodes, type DcsDriver } from '@pgha/core';
import { makeTestCerts } from '../helpers/certs.js';
import { startConsulEmulator, type EmulatorProcess } from './emulator/process.js';
import { driverFor, testContext, uniqueScope } from './harness.js';

let dir: string;
let serverOnly: EmulatorProcess;
let mutual: EmulatorProcess;
const opened: DcsDriver[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-consul-tls-'));
  const { server } = makeTestCerts(dir);
  [serverOnly, mutual] = await Promise.all([startConsulEmulator({ tls: server }), startConsulEmulator({ tls: { ...server, ca: join(dir, 'ca.pem') } })]);
});
afterAll(async () => {
  await Promise.allSettled(opened.map((d) => d.close()));
  await Promise.all([serverOnly?.stop(), mutual?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function load(section: Record<string, unknown>): Promise<unknown> {
  const d = await driverFor(testContext('a', uniqueScope('tls')), section);
  opened.push(d);
  return d.loadCluster().then((nodes) => nodes, (e: unknown) => e);
}

describe('consul over HTTPS', () => {
  it('scheme: https with cacert works, by host and by url', async () => {
    expect(await load({ host: serverOnly.hostPort, scheme: 'https', cacert: join(dir, 'ca.pem') })).toEqual([]);
    expect(await load({ url: `https://127.0.0.1:${serverOnly.port}`, cacert: join(dir, 'ca.pem') })).toEqual([]);
  });

  it('an untrusted server certificate is refused at once unless verify: false', async () => {
    const t0 = performance.now();
    const err = await load({ host: serverOnly.hostPort, scheme: 'https' });
    expect(err).toBeInstanceOf(DcsError);
    expect((err as DcsError).code).toBe(ErrorCodes.DCS_AUTH);
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(await load({ host: serverOnly.hostPort, scheme: 'https', verify: false })).toEqual([]);
    expect(await load({ host: serverOnly.hostPort, scheme: 'https', verify: 'false' })).toEqual([]);
  });

  it('a server that verifies clients accepts cert/key and refuses a client without one', async () => {
    const ca = join(dir, 'ca.pem');
    expect(await load({ host: mutual.hostPort, scheme: 'https', cacert: ca, cert: join(dir, 'client.pem'), key: join(dir, 'client.key') })).toEqual([]);
    const err = await load({ host: mutual.hostPort, scheme: 'https', cacert: ca });
    expect(err).toBeInstanceOf(DcsError);
  });

  it('plain http to an https server is a DcsError within retry_timeout', async () => {
    const t0 = performance.now();
    expect(await load({ host: serverOnly.hostPort })).toBeInstanceOf(DcsError);
    expect(performance.now() - t0).toBeLessThan(2000 + 1000);
  });
});
