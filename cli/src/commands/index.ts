import type { Command } from 'commander';
import { registerRun } from './run.js';
import { registerVersion } from './version.js';
import { registerValidateConfig } from './validate-config.js';
import { registerPlugins } from './plugins.js';
import { registerRaftWitness } from './raft-witness.js';

/** Every verb registers itself here, one line each. */
export function registerCommands(program: Command): void {
  registerRun(program);
  registerVersion(program);
  registerValidateConfig(program);
  registerPlugins(program);
  registerRaftWitness(program);
}
