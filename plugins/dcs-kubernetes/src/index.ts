/**
 * @pgha/dcs-kubernetes: the `kubernetes:` DCS. Default export is the plugin manifest the core's plugin host loads.
 */
import { definePlugin, type DcsContext, type Logger } from '@pgha/core';
import { K8sClient, loadKubeConfig } from './client.js';
import { kubernetesConfigSchema, resolveSettings, unhonouredKeys, type KubernetesConfig } from './config.js';
import { KubernetesDriver } from './driver.js';

export { kubernetesConfigSchema, resolveSettings, unhonouredKeys, labelSelector, type KubernetesConfig, type KubernetesSettings } from './config.js';
export { KubernetesDriver } from './driver.js';
export { K8sClient, loadKubeConfig } from './client.js';
export { objectNames, MEMBER_RENEW_ANNOTATION } from './model.js';

/** Build a driver from a validated `kubernetes:` section. Nothing connects here: an API that is down is not an error yet. */
export function createKubernetesDriver(ctx: DcsContext, config: KubernetesConfig, logger?: Logger): KubernetesDriver {
  for (const w of unhonouredKeys(config)) logger?.warn(w);
  const settings = resolveSettings(config, ctx.scope);
  const kc = loadKubeConfig({ context: config.context, cacert: config.cacert });
  return new KubernetesDriver(ctx, settings, new K8sClient(kc, settings.retriableHttpCodes));
}

export default definePlugin<KubernetesConfig, 'logger'>({
  kind: 'dcs',
  name: 'kubernetes',
  apiVersion: '1.0',
  configKey: 'kubernetes',
  description: "Kubernetes API: Patroni's model in annotations of Endpoints or ConfigMaps and Pods, resourceVersion compare-and-swap",
  configSchema: kubernetesConfigSchema,
  uses: ['logger'],
  create: (ctx, config) => createKubernetesDriver(ctx, config, ctx.services.logger),
});
