import type { Command } from 'commander';
import { FatalError, StartupRefused, startAgent } from '@pgha/core';

/** `pgha run CONFIG`: the agent (Patroni's `patroni CONFIG`). SIGTERM/SIGINT stop it cleanly, SIGHUP reloads. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .argument('[config]', 'configuration file or directory (else PATRONI_CONFIGURATION / PATRONI_* variables)')
    .description('run the HA agent for one PostgreSQL server')
    .action(async (configPath: string | undefined, _opts: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { configFile?: string };
      let running: Awaited<ReturnType<typeof startAgent>>;
      try {
        running = await startAgent({ configPath: configPath ?? globals.configFile ?? null });
      } catch (e) {
        // Already logged as Patroni does (e.g. `CRITICAL: Can't start; there is already a node named ...`).
        if (!(e instanceof StartupRefused)) throw e;
        process.exitCode = 1;
        return;
      }
      const { logger } = running;
      // Never die silently: report what killed us (the fence then protects a primary).
      process.on('uncaughtException', (e) => {
        try { logger.error(`uncaught exception: ${e instanceof Error ? e.stack : String(e)}`); } finally { process.exit(1); }
      });
      process.stdout.on('error', () => undefined);
      process.stderr.on('error', () => undefined);
      let stopping: Promise<void> | null = null;
      const shutdown = (signal: string) => {
        if (stopping) return;
        logger.info(`received ${signal}, shutting down`);
        stopping = running.stop();
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGHUP', () => {
        // A refused reload names every problem (key path: reason); the running configuration stays.
        running.agent.reloadConfig().then(() => logger.info('configuration reloaded'),
          (e: unknown) => logger.error(`reload failed, keeping the running configuration: ${(e instanceof Error ? e.message : String(e)).replace(/\n/g, '; ')}`));
      });
      try {
        await running.loop;
      } catch (e) {
        if (!(e instanceof FatalError)) throw e;
        logger.error(e.message);
        await running.api.stop().catch(() => undefined);
        process.exitCode = 1;
        return;
      }
      // The loop ends when a signal asked us to stop: finish the shutdown before the process exits.
      await stopping;
      logger.info('pgha stopped');
    });
}
