/**
 * `pgha version [CLUSTER [MEMBER...]]`: the pgha version, and with a cluster each member's agent and
 * PostgreSQL versions from GET /patroni, as patronictl's version verb prints them.
 */
import type { Command } from 'commander';
import { isPlainObject } from '@pgha/core';
import { CtlContext } from '../ctl/context.js';
import { jsonBody } from '../ctl/rest.js';
import { membersWithRole } from '../ctl/select.js';
import { VERSION } from '../version.js';

/** 90624 -> 9.6.24, 140008 -> 14.8. */
export function formatPgVersion(v: number): string {
  return v < 100000 ? `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}` : `${Math.floor(v / 10000)}.${v % 100}`;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Output version of pgha command or a running pgha/Patroni instance')
    .argument('[cluster_name]', 'also show the versions of this cluster\'s members')
    .argument('[member_names...]', 'only these members')
    .option('-c, --config-file <file>', 'configuration file (env PATRONICTL_CONFIG_FILE)')
    .option('-d, --dcs-url <url>', 'the DCS connect url (env DCS_URL)')
    .option('-k, --insecure', 'allow connections to SSL sites without certs')
    .action(async function (this: Command, clusterName: string | undefined, names: string[]) {
      process.stdout.write(`pgha version ${VERSION}\n`);
      if (!clusterName) return;
      process.stdout.write('\n');
      const ctx = CtlContext.fromCommand(this);
      try {
        const cluster = await ctx.cluster(clusterName);
        for (const m of membersWithRole(cluster, 'any')) {
          if (!m.apiUrl || (names.length && !names.includes(m.name))) continue;
          try {
            const doc = jsonBody(await ctx.rest.request(m, 'GET', 'patroni'));
            const agent = isPlainObject(doc?.patroni) ? doc.patroni.version : undefined;
            const pg = typeof doc?.server_version === 'number' ? ` PostgreSQL ${formatPgVersion(doc.server_version)}` : '';
            process.stdout.write(`${m.name}: Patroni ${String(agent)}${pg}\n`);
          } catch (e) {
            process.stdout.write(`${m.name}: failed to get version: ${e instanceof Error ? e.message : String(e)}\n`);
          }
        }
      } finally {
        await ctx.close();
      }
    });
}
