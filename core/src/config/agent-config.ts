/**
 * The agent's side of the local configuration: the checks before it starts and the reload on SIGHUP
 * or POST /reload. Kept here (not in the agent) so `run`, `validate-config` and the reload share one
 * list of rules.
 */
import type { RestApiConfig } from '../api/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { setMalformedSink } from '../model/malformed.js';
import { staticConfigIssues } from './checks.js';
import type { LoadedConfig } from './index.js';
import type { ConfigObject } from './merge.js';
import { describePending, planReload } from './reload.js';

/**
 * Before anything starts: refuse (ConfigError, `run` exits 1 with the reasons) a configuration that
 * cannot work, and route malformed-DCS-value reports to the log, once per key and problem.
 */
export function startupChecks(local: LoadedConfig, logger: Logger): void {
  const issues = staticConfigIssues(local.config as ConfigObject);
  if (issues.length) throw new ConfigError(issues);
  setMalformedSink((key, reason) => logger.warn(`malformed value in the DCS, /${key}: ${reason} (ignored)`));
}

/**
 * Load the changed local configuration and decide what applies now. Throws (the running
 * configuration stays) when the file is invalid or the REST API cannot take the new `restapi`.
 */
export async function reloadLocalConfig(current: LoadedConfig, load: () => LoadedConfig, logger: Logger,
  reloadApi: (r: RestApiConfig) => Promise<void>): Promise<LoadedConfig> {
  const plan = planReload(current, load());
  if (!plan.ok) throw new ConfigError(plan.issues);
  for (const w of plan.local.warnings) logger.warn(w);
  for (const p of plan.pendingRestart) logger.warn(describePending(p));
  if (plan.restapiChanged) {
    await reloadApi((plan.local.config.restapi ?? {}) as RestApiConfig);
    logger.info('REST API configuration re-applied');
  }
  return plan.local;
}
