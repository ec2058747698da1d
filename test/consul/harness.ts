/**
 * Shared wiring for the Consul suites: drivers built through the plugin's own factory (section
 * validated by its schema, as the plugin host does) against a Consul emulator process.
 */
import type { ConformanceTarget } from '@pgha/core/testing';
import { silentLogger, type DcsContext } from '@pgha/core';
import plugin, { consulConfigSchema, type ConsulDriver } from '@pgha/dcs-consul';
import type { EmulatorProcess } from './emulator/process.js';

export function sectionFor(consul: EmulatorProcess, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: consul.hostPort, ...extra };
}

export async function driverFor(ctx: DcsContext, section: Record<string, unknown>): Promise<ConsulDriver> {
  return (await plugin.create({ ...ctx, services: { logger: silentLogger } } as never, consulConfigSchema.parse(section))) as ConsulDriver;
}

export function conformanceTarget(consul: () => EmulatorProcess, ttl: number, extra: Record<string, unknown> = {}): ConformanceTarget {
  return {
    ttl,
    create: (ctx) => driverFor(ctx, sectionFor(consul(), extra)),
    putRaw: async (ctx, key, value) => {
      const res = await fetch(`${consul().url}/v1/kv${ctx.basePath}/${key}`, { method: 'PUT', body: value, headers: extra.token ? { 'X-Consul-Token': String(extra.token) } : {} });
      if (!res.ok) throw new Error(`raw put ${key}: ${res.status} ${await res.text()}`);
    },
  };
}

export function testContext(name: string, scope: string, overrides: Partial<DcsContext> = {}): DcsContext {
  return { name, scope, namespace: '/service', basePath: `/service/${scope}`, ttl: 4, loopWait: 1, retryTimeout: 2, ctl: false, ...overrides };
}

let seq = 0;
export function uniqueScope(label: string): string {
  return `${label}${process.pid}x${++seq}x${Math.random().toString(36).slice(2, 6)}`;
}
