import type { Command } from 'commander';
import { VERSION } from '../version.js';

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the pgha version')
    .action(() => {
      process.stdout.write(`pgha version ${VERSION}\n`);
    });
}
