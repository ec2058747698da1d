/**
 * @pgha/dcs-zookeeper: the `zookeeper:` DCS. Default export is the plugin manifest the core's plugin host loads.
 */
import { definePlugin, type DcsContext, type Logger } from '@pgha/core';
import { connectionString, zookeeperConfigSchema, type ZookeeperConfig } from './config.js';
import { ZookeeperDriver } from './driver.js';

export { connectionString, zookeeperConfigSchema, type ZookeeperConfig } from './config.js';
export { ZookeeperDriver, type ZookeeperSettings } from './driver.js';

/** Build a driver from a validated `zookeeper:` section. Connects in the background: a ZooKeeper that is down is not an error here. */
export function createZookeeperDriver(ctx: DcsContext, config: ZookeeperConfig, logger?: Pick<Logger, 'warn'>): ZookeeperDriver {
  return new ZookeeperDriver(ctx, {
    logger,
    connectionString: connectionString(config),
    connectTimeoutMs: config.connect_timeout !== undefined ? config.connect_timeout * 1000 : undefined,
    auth: config.auth_data ?? [],
  });
}

export default definePlugin<ZookeeperConfig, 'logger'>({
  kind: 'dcs',
  name: 'zookeeper',
  apiVersion: '1.0',
  configKey: 'zookeeper',
  description: 'ZooKeeper: ephemeral leader and member znodes bound to the agent session, version CAS, watches',
  configSchema: zookeeperConfigSchema,
  uses: ['logger'],
  create: (ctx, config) => createZookeeperDriver(ctx, config, ctx.services.logger),
});
