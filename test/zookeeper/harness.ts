/**
 * Shared wiring for the ZooKeeper suites: drivers built through the plugin's own manifest (config
 * section validated by its schema, as the plugin host does) and raw access to the ensemble.
 */
import type { ConformanceTarget } from '@pgha/core/testing';
import type { DcsContext } from '@pgha/core';
import plugin, { zookeeperConfigSchema, type ZookeeperDriver } from '@pgha/dcs-zookeeper';
import { afterAll, beforeAll } from 'vitest';
import { startZookeeper, zk, type ZkEnsemble } from '../helpers/zookeeper.js';

/** Short sessions for the kit (the test servers allow 1 s..60 s). */
export const TEST_TTL = 3;

export async function driverFor(ctx: DcsContext, section: Record<string, unknown>): Promise<ZookeeperDriver> {
  return (await plugin.create({ ...ctx, services: {} } as never, zookeeperConfigSchema.parse(section))) as ZookeeperDriver;
}

/** Patroni accepts hosts as a comma-separated string too; use that form here. */
export function sectionFor(e: ZkEnsemble): Record<string, unknown> {
  return { hosts: e.hosts.join(',') };
}

export function conformanceTarget(e: () => ZkEnsemble, ttl = TEST_TTL): ConformanceTarget {
  return {
    ttl,
    create: (ctx) => driverFor(ctx, sectionFor(e())),
    putRaw: async (ctx, key, value) => {
      const c = await e().rawClient();
      try {
        await zk.put(c, `${ctx.basePath}/${key}`, value);
      } finally {
        await zk.close(c);
      }
    },
  };
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

/** One ZooKeeper for the whole test file, stopped by PID afterwards. */
export function useZookeeper(members: 1 | 3 = 1): () => ZkEnsemble {
  let e: ZkEnsemble | undefined;
  beforeAll(async () => { e = await startZookeeper({ members }); });
  afterAll(async () => { await e?.stop(); });
  return () => e!;
}
