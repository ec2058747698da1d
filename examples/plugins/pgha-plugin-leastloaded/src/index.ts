/**
 * pgha-plugin-leastloaded: a replica-creation method that clones from the least-loaded streaming
 * replica instead of the primary, so adding a replica does not load the primary with a base
 * backup. Falls back to the source pgha chose (normally the leader) when no replica qualifies.
 *
 *   postgresql:
 *     create_replica_methods: [leastloaded, basebackup]
 *     leastloaded: { max_rate: 50M, max_lag_bytes: 16777216 }
 *
 * Plugin API 1.1: uses the `members` service and ReplicaCreateRequest.connect().
 */
import { definePlugin, type MemberView, type PluginServices, type ReplicaMethod, type ReplicaMethodContext } from '@pgha/plugin-api';
import { runBasebackup } from './basebackup.js';
import { eligibleReplicas, pickLeastLoaded, type Probed } from './choose.js';
import { configSchema, type LeastLoadedConfig } from './config.js';

export { eligibleReplicas, pickLeastLoaded } from './choose.js';
export { parseProgress } from './basebackup.js';

type Services = Pick<PluginServices, 'members' | 'http'>;

/** Walsenders on a member, from its REST status (`replication`: its pg_stat_replication rows); null if unreachable. */
async function walsenders(http: typeof fetch, m: MemberView, timeoutMs: number): Promise<number | null> {
  try {
    const res = await http(m.apiUrl!, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const body = (await res.json()) as { replication?: unknown };
    return Array.isArray(body.replication) ? body.replication.length : 0;
  } catch {
    return null;
  }
}

export function leastLoadedMethod(ctx: ReplicaMethodContext & { services: Services }, cfg: LeastLoadedConfig): ReplicaMethod {
  const log = ctx.logger.child({ method: 'leastloaded' });
  return {
    name: 'leastloaded',
    noLeader: false,
    keepData: false,
    async create(req) {
      let connstring = req.connstring ?? '';
      let env = req.env;
      let from = req.source?.name ?? null;
      try {
        const members = await ctx.services.members.list();
        const leader = members.find((m) => m.isLeader) ?? null;
        const probed: Probed[] = await Promise.all(eligibleReplicas(members, ctx.name)
          .map(async (member) => ({ member, walsenders: await walsenders(ctx.services.http, member, cfg.probe_timeout_ms) })));
        const best = pickLeastLoaded(probed, leader?.lsn ?? null, cfg.max_lag_bytes);
        const loads = Object.fromEntries(probed.map((p) => [p.member.name, p.walsenders]));
        if (best && req.connect) {
          ({ connstring, env } = req.connect(best.member));
          from = best.member.name;
          log.info({ source: from, walsenders: best.walsenders, loads }, `cloning from the least-loaded replica ${from}`);
        } else {
          log.info({ source: from, loads }, `no replica qualifies; cloning from ${from ?? 'nobody'}`);
        }
      } catch (e) {
        log.warn({ err: e instanceof Error ? e.message : String(e) }, `could not list members; cloning from ${from ?? 'nobody'}`);
      }
      if (!connstring) {
        log.error('no member to clone from');
        return 1;
      }
      return runBasebackup({ ctx, connstring, env, maxRate: cfg.max_rate, signal: req.signal, progress: req.progress });
    },
  };
}

export default definePlugin<LeastLoadedConfig, 'members' | 'http'>({
  kind: 'replica',
  name: 'leastloaded',
  apiVersion: '1.1',
  configKey: 'leastloaded',
  description: 'clone from the least-loaded streaming replica (pg_basebackup, optional --max-rate, progress)',
  configSchema,
  uses: ['members', 'http'],
  create: (ctx, cfg) => leastLoadedMethod(ctx, cfg),
});
