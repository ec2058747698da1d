/**
 * The replica-method resolver the plugin host provides. The core's replica chain (replica/create.ts)
 * only knows the ReplicaMethodResolver type; the agent injects this implementation, so nothing in
 * the core imports the plugin host to create a replica.
 */
import type { ReplicaMethodResolver } from '../replica/create.js';
import { CustomScriptReplicaMethod, methodWorksWithoutSource } from '../replica/custom-method.js';
import type { ReplicaMethod } from '../replica/contract.js';
import { isPlainObject } from '../util/json.js';
import type { PluginHost } from './host.js';

/** Replica plugins whose section may carry a Patroni-style `command` (they run it themselves). */
export const COMMAND_PLUGINS: ReadonlySet<string> = new Set(['pgbackrest', 'barman']);

/**
 * Scripts for sections with a `command`, else the replica plugin of that name (section validated by
 * its schema, services as its manifest declares). An installed plugin that takes commands
 * (pgbackrest, barman) gets the section even with a `command`: it runs it exactly as the script
 * would, and adds progress reporting.
 */
export function replicaMethodResolver(host: PluginHost | null): ReplicaMethodResolver {
  return async (name, raw, ctx) => {
    // A plugin's section may be a list (basebackup: [verbose, {max-rate: 100M}]); scripts need a dict.
    const section = isPlainObject(raw) ? raw : {};
    const hasCommand = typeof section.command === 'string' && section.command !== '';
    const ref = host && (!hasCommand || COMMAND_PLUGINS.has(name)) ? await host.find('replica', name) : null;
    if (hasCommand && !ref?.installed) return new CustomScriptReplicaMethod(name, section, ctx);
    const plugin = ref ? await host!.replicaPlugin(name) : null;
    if (!plugin) return null;
    const cfg = await host!.validateSection(plugin, raw ?? {}, `postgresql.${name}`);
    const services = host!.servicesFor(plugin);
    const method = (await plugin.create({ ...ctx, services } as Parameters<typeof plugin.create>[0], cfg)) as ReplicaMethod;
    // A plugin method may still be flagged no_leader in its section (never basebackup).
    return method.noLeader || !methodWorksWithoutSource(name, section) ? method : { ...method, noLeader: true, create: method.create.bind(method) };
  };
}
