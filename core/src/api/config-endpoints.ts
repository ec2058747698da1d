/**
 * Dynamic configuration and DCS-backed reads: GET/PATCH/PUT `/config`, GET `/history`, GET `/cluster`,
 * GET/POST `/failsafe` (reference §4.2).
 */
import { compactJson, deepEqual, isPlainObject, truthy } from '../util/json.js';
import { parseFailsafePing } from '../ha/failsafe.js';
import { clusterAsJson } from './cluster-json.js';
import { errorReply, jsonReply, readJsonObject, textReply } from './http-util.js';
import { patchConfig } from './merge-patch.js';
import type { ApiContext, Reply } from './types.js';

async function someCluster(ctx: ApiContext) {
  return ctx.backend.dcs.cluster ?? (await ctx.backend.dcs.getCluster());
}

export async function getConfig(ctx: ApiContext): Promise<Reply> {
  const cluster = await someCluster(ctx);
  return cluster.config && truthy(cluster.config.modifyVersion) ? jsonReply(200, cluster.config.data) : errorReply(502, 'no configuration in the DCS');
}

/** Merge-patch `/config` with a compare-and-swap on its version, so concurrent edits can't be lost. */
export async function patchConfigEndpoint(ctx: ApiContext): Promise<Reply> {
  const request = await readJsonObject(ctx.req, { optional: false, maxBytes: ctx.options.maxBodyBytes });
  const { dcs } = ctx.backend;
  const cluster = await dcs.getCluster();
  if (!(cluster.config && truthy(cluster.config.modifyVersion))) {
    return errorReply(503, 'no valid configuration in the DCS to patch');
  }
  const data = structuredClone(cluster.config.data);
  if (patchConfig(data, request) && !(await dcs.setConfigValue(compactJson(data), cluster.config.version))) {
    return errorReply(409, 'the configuration was changed concurrently, retry');
  }
  ctx.backend.wakeup();
  return jsonReply(200, data);
}

export async function putConfig(ctx: ApiContext): Promise<Reply> {
  const request = await readJsonObject(ctx.req, { optional: false, maxBytes: ctx.options.maxBodyBytes });
  const { dcs } = ctx.backend;
  const cluster = await dcs.getCluster();
  if (!(cluster.config && deepEqual(request, cluster.config.data)) && !(await dcs.setConfigValue(compactJson(request)))) {
    return errorReply(502, 'failed to write the configuration into the DCS');
  }
  return jsonReply(200, request);
}

export async function getHistory(ctx: ApiContext): Promise<Reply> {
  const cluster = await someCluster(ctx);
  return jsonReply(200, cluster.history?.lines ?? []);
}

export async function getCluster(ctx: ApiContext): Promise<Reply> {
  const cluster = await ctx.backend.dcs.getCluster();
  return jsonReply(200, { ...clusterAsJson(cluster, ctx.backend), scope: ctx.backend.scope });
}

export async function getFailsafe(ctx: ApiContext): Promise<Reply> {
  if (!ctx.backend.settings.failsafeMode) return errorReply(502, 'failsafe_mode is not enabled');
  // The last value read survives a DCS outage (Patroni's dcs.failsafe): that is when it matters.
  const { dcs } = ctx.backend;
  const failsafe = dcs.cluster?.failsafe ?? dcs.failsafe ?? (await dcs.getCluster().catch(() => null))?.failsafe;
  return isPlainObject(failsafe) ? jsonReply(200, failsafe) : errorReply(502, 'no failsafe key in the DCS');
}

/** A primary that lost the DCS asks each member for consent to keep running (failsafe mode). */
export async function postFailsafe(ctx: ApiContext): Promise<Reply> {
  const { backend } = ctx;
  if (!backend.settings.failsafeMode || !backend.updateFailsafe) return errorReply(502, 'failsafe_mode is not enabled');
  const request = await readJsonObject(ctx.req, { optional: false, maxBytes: ctx.options.maxBodyBytes });
  const bad = parseFailsafePing(request);
  if (typeof bad === 'string') return textReply(400, `Bad failsafe request: ${bad}`);
  const ret = await backend.updateFailsafe(request);
  const headers: Record<string, string> = typeof ret === 'number' ? { lsn: String(ret) } : {};
  const message = typeof ret === 'string' ? ret : 'Accepted';
  return textReply(message === 'Accepted' ? 200 : 500, message, headers);
}
