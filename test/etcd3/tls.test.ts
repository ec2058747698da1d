/**
 * etcd serving clients over HTTPS and requiring client certificates (`--client-cert-auth`): the
 * kit passes with `cacert`/`cert`/`key`, and the lease keep-alive stream, which has its own HTTP/2
 * connection (keepalive-stream.ts), uses the same files: renewals reach etcd, and without the
 * client certificate the stream is refused at once instead of hanging until its deadline.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dcs } from '@pgha/core';
import { runDcsConformance } from '@pgha/core/testing';
import plugin, { etcd3ConfigSchema } from '@pgha/dcs-etcd3';
import { Etcd3 } from 'etcd3';
import { keepAliveTarget } from '../../plugins/dcs-etcd3/src/client.js';
import { KeepAliveChannel } from '../../plugins/dcs-etcd3/src/keepalive-stream.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { driverFor, testContext, TEST_TTL, uniqueScope } from './harness.js';

let dir: string;
let certs: TestCerts;
let etcd: EtcdCluster;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-etcd-tls-'));
  certs = makeTestCerts(dir);
  etcd = await startEtcd({ tls: { ...certs.server, ca: certs.ca } });
});
afterAll(async () => {
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const section = () => ({ hosts: [...etcd.endpoints], cacert: certs.ca, cert: certs.client.cert, key: certs.client.key });
const credentials = () => ({ rootCertificate: readFileSync(certs.ca), certChain: readFileSync(certs.client.cert), privateKey: readFileSync(certs.client.key) });

runDcsConformance('etcd3 over TLS with client certificates', () => ({
  ttl: TEST_TTL,
  create: async (ctx) => plugin.create({ ...ctx, services: {} } as never, etcd3ConfigSchema.parse(section())),
  putRaw: async (ctx, key, value) => {
    const client = new Etcd3({ hosts: [...etcd.endpoints], credentials: credentials() });
    try {
      await client.put(`${ctx.basePath}/${key}`).value(value);
    } finally {
      client.close();
    }
  },
}));

describe('etcd3 lease keep-alives over TLS', () => {
  it('a leader renews over its own TLS connection, with the client certificate', async () => {
    const ctx = testContext('node1', uniqueScope('tls'));
    const dcs = new Dcs(driverFor(ctx, section()), { ttl: TEST_TTL, loopWait: 1, retryTimeout: 2 });
    try {
      await dcs.touchMember({ state: 'running' });
      expect(await dcs.attemptToAcquireLeader()).toBe(true);
      const leader = (await dcs.getCluster()).leader!;
      const r0 = await etcd.metric(0, 'etcd_debugging_lease_renewed_total');
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1100));
        expect(await dcs.updateLeader(leader, null)).toBe(true);
      }
      expect(await etcd.metric(0, 'etcd_debugging_lease_renewed_total')).toBe(r0 + 3);
    } finally {
      await dcs.close();
    }
  });

  it('without the client certificate the stream is refused at once, not left hanging until the deadline', async () => {
    const client = new Etcd3({ hosts: [...etcd.endpoints], credentials: credentials() });
    const { ID } = await client.leaseClient.leaseGrant({ TTL: 30 });
    const tls = { rootCertificate: readFileSync(certs.ca) };
    const channel = new KeepAliveChannel(keepAliveTarget(client, { endpoints: { hosts: [...etcd.endpoints], secure: true }, tls }));
    try {
      const t0 = performance.now();
      await expect(channel.renew(String(ID), Date.now() + 10_000, () => undefined)).rejects.toThrow(/lease keepalive/);
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      channel.close();
      client.close();
    }
  });
});
