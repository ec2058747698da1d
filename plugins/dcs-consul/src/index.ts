/**
 * @pgha/dcs-consul: the `consul:` DCS. Default export is the plugin manifest the core's plugin host loads.
 *
 * Built on the `consul` npm package (papi): its per-request `timeout` and cancel `ctx` give every
 * call a deadline within retry_timeout and let a watch stop promptly when the agent aborts it.
 */
import { definePlugin, type DcsContext } from '@pgha/core';
import { consulConfigSchema, readTls, resolveEndpoint, unknownKeys, type ConsulConfig } from './config.js';
import { ConsulDriver } from './driver.js';

export { consulConfigSchema, resolveEndpoint, serviceNameFromScope, unknownKeys, CONSUL_KEYS, type ConsulConfig } from './config.js';
export { ConsulDriver, type ConsulDriverSettings } from './driver.js';

/** Build a driver from a validated `consul:` section. Connects lazily: a Consul that is down is not an error here. */
export function createConsulDriver(ctx: DcsContext, config: ConsulConfig, warn?: (msg: string) => void): ConsulDriver {
  const endpoint = resolveEndpoint(config);
  const unknown = unknownKeys(config);
  if (unknown.length) warn?.(`configuration keys not used by pgha's consul plugin: ${unknown.join(', ')}`);
  if (config.checks?.length) {
    warn?.(`consul.checks: Consul invalidates a session the moment one of its checks fails, so the leader key can vanish before `
      + `the lease judged from the last renew (ttl); leave checks empty (Patroni's default) to keep that guarantee`);
  }
  return new ConsulDriver(ctx, {
    endpoint, token: config.token, dc: config.dc, consistency: config.consistency,
    tls: endpoint.secure ? readTls(config) : undefined,
    // Patroni passes `checks` through (an empty list means a session bound to no health check).
    checks: config.checks ?? [],
    service: {
      register: config.register_service ?? false, tags: [...(config.service_tags ?? [])].sort(),
      checkInterval: config.service_check_interval ?? '5s', tlsServerName: config.service_check_tls_server_name,
      deregisterAfter: `${(ctx.ttl / 2) * 10}s`,
    },
    warn,
  });
}

export default definePlugin<ConsulConfig, 'logger'>({
  kind: 'dcs',
  name: 'consul',
  apiVersion: '1.0',
  configKey: 'consul',
  description: 'Consul over HTTP: one session (ttl/2) per member, acquire for the leader key, ModifyIndex CAS, blocking-query watch',
  configSchema: consulConfigSchema,
  uses: ['logger'],
  create: (ctx, config) => createConsulDriver(ctx, config, (msg) => ctx.services.logger?.warn(msg)),
});
