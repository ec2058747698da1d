import type { Command } from 'commander';
import { registerVersion } from './version.js';

/** Every verb registers itself here, one line each. */
export function registerCommands(program: Command): void {
  registerVersion(program);
}
