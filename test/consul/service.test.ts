/**
 * What the driver sends, checked on an in-process emulator. register_service as Patroni does it, through the driver: one service per member (id
 * `<scope>/<name>`, name from the scope), tags = service_tags + role (+ primary/master alias), an HTTP
 * check on the REST API's role endpoint with service_check_interval and
 * service_check_tls_server_name, re-registered on role change, deregistered when stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulEmulator } from './emulator/server.js';
import { driverFor, testContext } from './harness.js';

let emu: ConsulEmulator;
beforeAll(async () => {
  emu = new ConsulEmulator({ sessionTtlMinMs: 1000 });
  await emu.listen();
});
afterAll(async () => { await emu?.close(); });

const member = (role: string, state = 'running') => ({
  role, state, api_url: 'http://127.0.0.1:1/patroni', conn_url: 'postgres://10.0.0.7:5433/postgres', version: '4.0.0',
});

describe('consul register_service', () => {
  it('registers, re-tags on role change and deregisters when stopped', async () => {
    const d = await driverFor(testContext('node1', 'My_Cluster'), {
      host: `127.0.0.1:${emu.port}`, register_service: true, service_tags: ['b', 'a'], service_check_interval: '2s',
      service_check_tls_server_name: 'db.example',
    });
    try {
      expect(await d.touchMember(member('primary'))).toBe(true);
      const svc = emu.agent.services.get('My_Cluster/node1')!;
      expect(svc).toMatchObject({ Service: 'my-cluster', Address: '10.0.0.7', Port: 5433 });
      expect(svc.Tags).toEqual(['a', 'b', 'primary', 'master']);
      const check = emu.state.checks.get('service:My_Cluster/node1')!;
      expect(check.Definition).toEqual({ HTTP: 'http://127.0.0.1:1/primary', Interval: '2s', TLSServerName: 'db.example', DeregisterCriticalServiceAfter: '20s' });

      expect(await d.touchMember(member('replica'))).toBe(true);
      expect(emu.agent.services.get('My_Cluster/node1')!.Tags).toEqual(['a', 'b', 'replica']);
      expect(emu.state.checks.get('service:My_Cluster/node1')!.Definition!.HTTP).toBe('http://127.0.0.1:1/replica');

      // Not running yet (e.g. starting): the registration is left as it is, like Patroni.
      expect(await d.touchMember(member('replica', 'starting'))).toBe(true);
      expect(emu.agent.services.has('My_Cluster/node1')).toBe(true);
      expect(await d.touchMember(member('replica', 'stopped'))).toBe(true);
      expect(emu.agent.services.has('My_Cluster/node1')).toBe(false);
      expect(emu.state.checks.has('service:My_Cluster/node1')).toBe(false);
    } finally {
      await d.close();
    }
  });

  it('a failing registration does not fail touchMember; it is retried on the next one', async () => {
    const d = await driverFor(testContext('node2', 'svc2'), { host: `127.0.0.1:${emu.port}`, register_service: true });
    try {
      // An api_url that is not a URL makes the registration fail, while the member key is still written.
      const bad = { ...member('primary'), api_url: 'not a url' };
      expect(await d.touchMember(bad)).toBe(true);
      expect(emu.agent.services.has('svc2/node2')).toBe(false);
      expect(await d.touchMember(member('primary'))).toBe(true);
      expect(emu.agent.services.get('svc2/node2')!.Tags).toEqual(['primary', 'master']);
    } finally {
      await d.close();
    }
  });
});

describe('consul consistency and dc on the wire', () => {
  const reads = () => emu.requests.filter((r) => r.method === 'GET' && decodeURIComponent(r.path).startsWith('/v1/kv/service/'));

  it('agents read with the configured consistency, ctl always consistent; dc goes with the call', async () => {
    const cases: Array<[Record<string, unknown>, boolean, RegExp, RegExp | null]> = [
      [{}, false, /^\?recurse=true$/, null],
      [{ consistency: 'stale' }, false, /[?&]stale=1/, /consistent/],
      [{ consistency: 'consistent', dc: 'dc1' }, false, /[?&]consistent=1/, /stale/],
      [{ consistency: 'stale' }, true, /[?&]consistent=1/, /stale/],
    ];
    for (const [extra, ctl, want, not] of cases) {
      const d = await driverFor(testContext('n', 'wire', { ctl }), { host: `127.0.0.1:${emu.port}`, ...extra });
      try {
        await d.loadCluster();
        const q = reads().at(-1)!.query;
        expect(q).toMatch(want);
        if (not) expect(q).not.toMatch(not);
        if (extra.dc) expect(q).toMatch(/[?&]dc=dc1/);
      } finally {
        await d.close();
      }
    }
  });
});
