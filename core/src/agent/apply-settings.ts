/**
 * Pushing a new settings snapshot to its consumers: new DCS timings to the facade, a new lease
 * timing to the fence, a changed `postgresql` section to PostgreSQL (a reload). Errors are logged;
 * the running settings stay.
 */
import type { AgentSettings } from '../config/agent-settings.js';
import type { Dcs } from '../dcs/facade.js';
import { fenceTiming } from '../fence/timing.js';
import type { Logger } from '../log.js';
import type { AgentGuard } from './agent.js';
import type { PostgresPort } from './postgres-port.js';

export interface SettingsConsumers {
  readonly dcs: Pick<Dcs, 'reloadConfig'>;
  readonly guard?: AgentGuard;
  readonly pg: Pick<PostgresPort, 'applySettings'>;
  readonly logger: Logger;
}

export function applySettings(prev: AgentSettings, next: AgentSettings, to: SettingsConsumers): void {
  const t = next.timings;
  if (t.ttl !== prev.timings.ttl || t.loopWait !== prev.timings.loopWait || t.retryTimeout !== prev.timings.retryTimeout) {
    void to.dcs.reloadConfig(t).catch((e: unknown) => to.logger.warn(`applying new timings: ${String(e)}`));
  }
  retimeFence(to, t, next.watchdog);
  if (JSON.stringify(next.postgresqlSection) !== JSON.stringify(prev.postgresqlSection)) {
    to.logger.info('postgresql configuration changed; reloading PostgreSQL');
    try {
      to.pg.applySettings(next.postgresqlSection);
    } catch (e) {
      to.logger.error(`cannot apply the new postgresql configuration: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** New ttl, loop_wait or safety_margin: the fence follows (a margin below 1 was refused at load and cannot come from the DCS). */
function retimeFence(to: SettingsConsumers, t: { ttl: number; loopWait: number; retryTimeout: number }, watchdog: unknown): void {
  const guard = to.guard;
  if (!guard) return;
  try {
    const timing = fenceTiming(t, watchdog);
    if (timing.fireAfter === guard.fireAfter) return;
    if (timing.warning) to.logger.warn(timing.warning);
    void guard.retime(timing);
  } catch (e) {
    to.logger.error(`fence timing: ${e instanceof Error ? e.message : String(e)}`);
  }
}
