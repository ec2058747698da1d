/**
 * Building blocks for the management verbs: each verb also accepts the global options after its
 * name (`pgha list -c FILE`), the shared `--format`/`--force`/watch options, and an action runner
 * that loads the context, closes it, and releases stdin afterwards.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { withContext, type CtlContext } from './context.js';
import { OUTPUT_FORMATS, type OutputFormat } from './output.js';
import { closePrompts } from './prompt.js';
import { ROLE_CHOICES } from './select.js';

/**
 * A management verb. `globals: 'long'` adds only `--config-file`/`--dcs-url` for verbs whose short
 * `-c`/`-d` mean something else (query: `-c` command, `-d` dbname), as in patronictl.
 */
export function ctlVerb(program: Command, name: string, description: string, o: { globals?: 'short' | 'long' } = {}): Command {
  const cmd = program.command(name).description(description);
  if (o.globals === 'long') {
    cmd.option('--config-file <file>', 'configuration file (env PATRONICTL_CONFIG_FILE)');
    cmd.option('--dcs-url <url>', 'the DCS connect url, e.g. etcd3://127.0.0.1:2379/service (env DCS_URL)');
  } else {
    cmd.option('-c, --config-file <file>', 'configuration file (env PATRONICTL_CONFIG_FILE)');
    cmd.option('-d, --dcs-url <url>', 'the DCS connect url, e.g. etcd3://127.0.0.1:2379/service (env DCS_URL)');
  }
  cmd.option('-k, --insecure', 'allow connections to SSL sites without certs');
  return cmd;
}

export const formatOption = (dflt: OutputFormat = 'pretty', flags = '-f, --format <format>') =>
  new Option(flags, 'output format').choices(OUTPUT_FORMATS).default(dflt);

export const roleOption = (help: string, dflt?: string) => {
  const o = new Option('-r, --role <role>', help).choices(ROLE_CHOICES);
  return dflt ? o.default(dflt) : o;
};

export const forceOption = () => new Option('--force', 'do not ask for confirmation at any point');

export function watchOptions(cmd: Command): Command {
  return cmd
    .option('-W', 'auto update the screen every 2 seconds')
    .addOption(new Option('-w, --watch <seconds>', 'auto update the screen every X seconds').argParser(parsePositiveFloat));
}

function parsePositiveFloat(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a valid float.`);
  return n;
}

/** Seconds between refreshes for -W / -w, or null for a single run. */
export function watchInterval(opts: { W?: boolean; watch?: number }): number | null {
  if (opts.watch) return opts.watch;
  return opts.W ? 2 : null;
}

/** Run a verb body with a CtlContext; `this` of a commander action is the command. */
export function ctlAction<A extends unknown[]>(fn: (ctx: CtlContext, cmd: Command, ...args: A) => Promise<void>) {
  return async function (this: Command, ...args: unknown[]): Promise<void> {
    // commander passes (...positionals, opts, command); the verb reads options via the command.
    const positionals = args.slice(0, -2) as A;
    try {
      await withContext(this, (ctx) => fn(ctx, this, ...positionals));
    } finally {
      closePrompts();
    }
  };
}
