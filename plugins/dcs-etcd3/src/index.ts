/**
 * @pgha/dcs-etcd3: the `etcd3:` DCS. Default export is the plugin manifest the core's plugin host loads.
 */
import { definePlugin, type DcsContext } from '@pgha/core';
import { etcd3ConfigSchema, readTlsFiles, resolveEndpoints, type Etcd3Config } from './config.js';
import { Etcd3Driver } from './driver.js';

export { etcd3ConfigSchema, resolveEndpoints, type Etcd3Config } from './config.js';
export { Etcd3Driver } from './driver.js';
export type { ClientSettings } from './client.js';

/** Build a driver from a validated `etcd3:` section. Connects lazily: an etcd that is down is not an error here. */
export function createEtcd3Driver(ctx: DcsContext, config: Etcd3Config): Etcd3Driver {
  const auth = config.username !== undefined ? { username: config.username, password: config.password ?? '' } : undefined;
  return new Etcd3Driver(ctx, { endpoints: resolveEndpoints(config), auth, tls: readTlsFiles(config) });
}

export default definePlugin<Etcd3Config>({
  kind: 'dcs',
  name: 'etcd3',
  apiVersion: '1.0',
  configKey: 'etcd3',
  description: 'etcd v3 over native gRPC: one lease per member, transactions, a watch-fed cache',
  configSchema: etcd3ConfigSchema,
  create: (ctx, config) => createEtcd3Driver(ctx, config),
});
