import type { Command } from 'commander';
import { registerRun } from './run.js';
import { registerVersion } from './version.js';
import { registerValidateConfig } from './validate-config.js';
import { registerPlugins } from './plugins.js';
import { registerPluginInit } from './plugin-init.js';
import { registerRaftWitness } from './raft-witness.js';
import { registerDemo } from './demo.js';
import { registerList } from './list.js';
import { registerDsnQuery } from './dsn-query.js';
import { registerEditConfig } from './edit-config.js';
import { registerHistoryRemove } from './history-remove.js';
import { registerPause } from './pause.js';
import { registerSwitchover } from './switchover.js';
import { registerRestart } from './restart.js';
import { registerReinitFlush } from './reinit-flush.js';
import { registerClusterRole } from './cluster-role.js';

/** Every verb registers itself here, one line each. */
export function registerCommands(program: Command): void {
  registerRun(program);
  registerVersion(program);
  registerValidateConfig(program);
  registerPlugins(program);
  registerPluginInit(program);
  registerRaftWitness(program);
  registerDemo(program);
  // patronictl's management verbs
  registerList(program);
  registerDsnQuery(program);
  registerEditConfig(program);
  registerHistoryRemove(program);
  registerPause(program);
  registerSwitchover(program);
  registerRestart(program);
  registerReinitFlush(program);
  registerClusterRole(program);
}
