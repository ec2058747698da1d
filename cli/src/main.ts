/**
 * The `pgha` command. Global options are accepted before the verb as patronictl takes them
 * (`pgha -c FILE list`), so scripts can swap `patronictl` for `pgha`.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from './version.js';

type Register = (program: Command) => void;

/**
 * `pgha run` loads only what the agent uses: the management verbs (and the modules behind them:
 * the Raft plugin for raft-witness, the diff library of edit-config, table output) stay unloaded,
 * which keeps several MB off the agent's resident memory.
 */
async function registrations(argv: readonly string[]): Promise<Register> {
  const verb = argv.slice(2).find((a) => !a.startsWith('-'));
  if (verb === 'run' && !argv.includes('--help') && !argv.includes('-h')) return (await import('./commands/run.js')).registerRun;
  return (await import('./commands/index.js')).registerCommands;
}

export function buildProgram(register?: Register): Command {
  const program = new Command('pgha')
    .description('PostgreSQL high availability: agent, demo and patronictl-compatible management')
    .version(VERSION, '-V, --version', 'print the pgha version')
    .option('-c, --config-file <file>', 'configuration file (env PATRONICTL_CONFIG_FILE)')
    .option('-d, --dcs-url <url>', 'DCS to use, e.g. etcd3://127.0.0.1:2379/service (env DCS_URL)')
    .option('-k, --insecure', 'allow connections to the REST API without verifying certificates')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  if (register) register(program);
  // A usage error names the verb's usage, as click does: `Usage: pgha restart [options] <cluster_name> ...`.
  for (const cmd of program.commands) {
    cmd.showHelpAfterError(`Usage: pgha ${cmd.name()} ${cmd.usage()}\nTry 'pgha ${cmd.name()} --help' for help.`);
  }
  return program;
}

/** Every verb, for tests and help. */
export async function fullProgram(): Promise<Command> {
  return buildProgram((await import('./commands/index.js')).registerCommands);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(await registrations(argv));
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" to commander; usage errors exit 2 like click does.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return e.exitCode === 1 ? 2 : e.exitCode;
    }
    process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
