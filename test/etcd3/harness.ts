/**
 * Shared wiring for the etcd3 suites: drivers built through the plugin's own factory (config
 * section validated by its schema, as the plugin host does) and raw access to etcd.
 */
import type { ConformanceTarget } from '@pgha/core/testing';
import type { DcsContext } from '@pgha/core';
import { Etcd3 } from 'etcd3';
import plugin, { createEtcd3Driver, etcd3ConfigSchema, type Etcd3Driver } from '@pgha/dcs-etcd3';
import { afterAll, beforeAll } from 'vitest';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';

export const TEST_TTL = 3;

export interface AuthOptions { username: string; password: string }

/** Validate a section the way the plugin host would, then build a driver. */
export function driverFor(ctx: DcsContext, section: Record<string, unknown>): Etcd3Driver {
  return createEtcd3Driver(ctx, etcd3ConfigSchema.parse(section));
}

export function sectionFor(etcd: EtcdCluster, auth?: AuthOptions): Record<string, unknown> {
  // Patroni accepts hosts as a comma-separated string too; use that form here.
  return { hosts: etcd.endpoints.map((u) => u.replace('http://', '')).join(','), ...(auth ?? {}) };
}

export function conformanceTarget(etcd: () => EtcdCluster, auth?: AuthOptions): ConformanceTarget {
  return {
    ttl: TEST_TTL,
    create: async (ctx) => (await plugin.create({ ...ctx, services: {} } as never, etcd3ConfigSchema.parse(sectionFor(etcd(), auth)))),
    putRaw: async (ctx, key, value) => {
      const client = rawClient(etcd(), auth);
      try {
        await client.put(`${ctx.basePath}/${key}`).value(value);
      } finally {
        client.close();
      }
    },
  };
}

export function rawClient(etcd: EtcdCluster, auth?: AuthOptions): Etcd3 {
  return new Etcd3({ hosts: [...etcd.endpoints], ...(auth ? { auth } : {}) });
}

export function testContext(name: string, scope: string, overrides: Partial<DcsContext> = {}): DcsContext {
  return {
    name, scope, namespace: '/service', basePath: `/service/${scope}`,
    ttl: TEST_TTL, loopWait: 1, retryTimeout: 2, ctl: false, ...overrides,
  };
}

let seq = 0;
export function uniqueScope(label: string): string {
  return `${label}${process.pid}x${++seq}x${Math.random().toString(36).slice(2, 6)}`;
}

/** One etcd (and a raw client on it) for the whole test file, stopped by PID afterwards. */
export function useEtcd(): { etcd: () => EtcdCluster; raw: () => Etcd3 } {
  let etcd: EtcdCluster | undefined;
  let raw: Etcd3 | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
    raw = rawClient(etcd);
  });
  afterAll(async () => {
    raw?.close();
    await etcd?.stop();
  });
  return { etcd: () => etcd!, raw: () => raw! };
}
