/**
 * One typed snapshot of what the agent runs on, built from the validated configuration each time
 * it changes (local file, `/config`): the HA decision settings, the DCS timings, the PostgreSQL
 * section (parsed once, by the same rules the controller uses), the published tags. The agent
 * pushes it to every consumer through one `apply(settings)`.
 */
import type { HaSettings } from '../ha/types.js';
import { parsePostgresSettings, type PostgresSettings } from '../postgres/settings.js';
import { isStandbySection } from '../ha/standby-source.js';
import { isPlainObject } from '../util/json.js';
import type { EffectiveConfig } from './effective.js';
import type { PghaConfig } from './schema/index.js';
import type { Timings } from './timings.js';

export interface AgentSettings {
  /** For decide(); `watchdogUnavailable` is a fact of the fence, added per cycle. */
  readonly ha: Omit<HaSettings, 'watchdogUnavailable'>;
  readonly timings: Timings;
  /** The effective `postgresql` section as the controller takes it, and parsed. */
  readonly postgresqlSection: Readonly<Record<string, unknown>>;
  readonly postgresql: PostgresSettings;
  /** The `tags` section (unfiltered; the agent publishes them as Patroni filters them). */
  readonly tags: Readonly<Record<string, unknown>>;
  /** The `watchdog` section (the fence's safety margin). */
  readonly watchdog: unknown;
}

export function agentSettings(local: PghaConfig, eff: EffectiveConfig): AgentSettings {
  const c = eff.cluster;
  const section: Readonly<Record<string, unknown>> = isPlainObject(eff.config.postgresql) ? eff.config.postgresql : {};
  const pg = parsePostgresSettings(section);
  const tags = (local as { tags?: unknown }).tags;
  return {
    ha: {
      ttl: c.ttl, loopWait: c.loopWait, retryTimeout: c.retryTimeout, maximumLagOnFailover: c.maximumLagOnFailover,
      primaryStartTimeout: c.primaryStartTimeout, primaryStopTimeout: c.primaryStopTimeout, checkTimeline: c.checkTimeline, paused: c.pause, primaryRaceBackoff: c.primaryRaceBackoff, memberSlotsTtl: c.memberSlotsTtl,
      failsafeMode: c.failsafeMode, standbyCluster: isStandbySection(c.standbyCluster),
      usePgRewind: pg.usePgRewind,
      removeDataDirectoryOnRewindFailure: pg.removeDataDirectoryOnRewindFailure,
      removeDataDirectoryOnDivergedTimelines: pg.removeDataDirectoryOnDivergedTimelines,
      canBootstrap: isPlainObject((local as { bootstrap?: unknown }).bootstrap),
      hasNoLeaderReplicaMethod: pg.createReplicaMethods.some((m) => {
        const sec = section[m];
        return isPlainObject(sec) && !!(sec.no_leader || sec.no_master);
      }),
    },
    timings: eff.timings,
    postgresqlSection: section,
    postgresql: pg,
    tags: isPlainObject(tags) ? tags : {},
    watchdog: (local as { watchdog?: unknown }).watchdog,
  };
}
