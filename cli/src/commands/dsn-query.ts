/**
 * `pgha dsn` (host/port of a member from the DCS) and `pgha query` (SQL on a member over a direct
 * libpq-protocol connection with the `pg` package, as patronictl does with psycopg).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import pg from 'pg';
import type { Cluster } from '@pgha/core';
import { ctlAction, ctlVerb, formatOption, roleOption, watchInterval, watchOptions } from '../ctl/command.js';
import { CtlError } from '../ctl/errors.js';
import { formatOutput, type Cell, type OutputFormat } from '../ctl/output.js';
import { prompt } from '../ctl/prompt.js';
import { anyMember, type CtlRole } from '../ctl/select.js';
import { timestamp } from '../ctl/time.js';

/** Numbers and booleans become JSON values; everything else is kept as PostgreSQL's text. */
const PARSED_OIDS = new Set([16, 20, 21, 23, 26, 700, 701]);
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) => (PARSED_OIDS.has(oid)
    ? (v: string) => (oid === 16 ? v === 't' : oid === 20 && !Number.isSafeInteger(Number(v)) ? v : Number(v))
    : pg.types.getTypeParser(25, format as 'text'))) as typeof pg.types.getTypeParser,
};

interface QueryOptions {
  format: OutputFormat;
  file?: string;
  password?: boolean;
  username?: string;
  W?: boolean;
  watch?: number;
  role?: CtlRole;
  member?: string;
  delimiter: string;
  command?: string;
  dbname?: string;
}

interface QueryResult { rows: Cell[][]; columns: string[] | null }

/** Connect to the chosen member; null when it doesn't have the requested role right now. */
async function connect(cluster: Cluster, o: QueryOptions, password: string | undefined): Promise<pg.Client | null> {
  const member = anyMember(cluster, o.role, o.member);
  if (!member) return null;
  const kw = member.connKwargs({ ...(o.username ? { username: o.username } : {}), ...(password !== undefined ? { password } : {}) });
  const client = new pg.Client({
    host: kw.host as string, port: Number(kw.port ?? 5432), user: kw.user as string | undefined, password: kw.password as string | undefined,
    database: o.dbname, application_name: 'Patroni ctl', connectionTimeoutMillis: 5000, types: typeParsers,
  });
  // A server that goes away fails the running query; without a listener it would also end the process.
  client.on('error', () => undefined);
  await client.connect();
  const role = o.member !== undefined ? 'any' : o.role ?? 'leader';
  if (['any', 'leader'].includes(role)) return client;
  // Roles other than any/leader are checked against PostgreSQL itself, not only the DCS view.
  const r = await client.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
  const inRecovery = r.rows[0]?.r !== false;
  if ((inRecovery && ['replica', 'standby', 'standby-leader'].includes(role)) || (!inRecovery && ['primary', 'master'].includes(role))) return client;
  await client.end().catch(() => undefined);
  return null;
}

async function runQuery(client: pg.Client | null, sql: string, o: QueryOptions): Promise<QueryResult> {
  if (!client) {
    const message = o.member !== undefined ? `No connection to member ${o.member} is available`
      : o.role !== undefined ? `No connection to role ${o.role} is available` : 'No connection is available';
    return { rows: [[timestamp(0), message]], columns: null };
  }
  const res = await client.query({ text: sql, rowMode: 'array' });
  // Several statements give several results; psycopg shows the last one.
  const last = (Array.isArray(res) ? res[res.length - 1] : res) as pg.QueryArrayResult | undefined;
  return { rows: (last?.rows ?? []) as Cell[][], columns: last?.fields?.length ? last.fields.map((f) => f.name) : null };
}

function sqlErrorResult(e: unknown): QueryResult {
  const code = (e as { code?: string }).code;
  const message = (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : e instanceof Error ? e.message : String(e)).replace(/\n/g, ' ');
  return { rows: [[timestamp(0), `ERROR, SQLSTATE: ${message}`]], columns: null };
}

export function registerDsnQuery(program: Command): void {
  ctlVerb(program, 'dsn', 'Generate a dsn for the provided member, defaults to a dsn of the leader')
    .argument('[cluster_name]', 'cluster (default: scope)')
    .addOption(roleOption('give a dsn of any member with this role'))
    .option('-m, --member <member>', 'generate a dsn for this member')
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<{ role?: CtlRole; member?: string }>();
      const name = ctx.clusterName(clusterArg);
      const m = anyMember(await ctx.cluster(name), o.role, o.member);
      if (!m) throw new CtlError('Can not find a suitable member');
      const kw = m.connKwargs();
      process.stdout.write(`host=${String(kw.host)} port=${String(kw.port)}\n`);
    }));

  watchOptions(ctlVerb(program, 'query', 'Query a Patroni PostgreSQL member', { globals: 'long' }))
    .argument('[cluster_name]', 'cluster (default: scope)')
    .addOption(formatOption('tsv', '--format <format>'))
    .option('-f, --file <file>', 'execute the SQL commands from this file (- for stdin)')
    .option('--password', 'force password prompt')
    .option('-U, --username <user>', 'database user name')
    .addOption(roleOption('the role of the query'))
    .option('-m, --member <member>', 'query a specific member')
    .option('--delimiter <delimiter>', 'the column delimiter', '\t')
    .option('-c, --command <sql>', 'the SQL commands to execute')
    .option('-d, --dbname <dbname>', 'database name to connect to')
    .action(ctlAction(async (ctx, cmd, clusterArg: string | undefined) => {
      const o = cmd.opts<QueryOptions>();
      if (o.role !== undefined && o.member !== undefined) throw new CtlError('--role and --member are mutually exclusive options');
      let sql: string;
      if (o.file !== undefined) {
        if (o.command !== undefined) throw new CtlError('--file and --command are mutually exclusive options');
        sql = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      } else if (o.command === undefined) {
        throw new CtlError('You need to specify either --command or --file');
      } else sql = o.command;
      const password = o.password ? await prompt('Password') : undefined;
      const name = ctx.clusterName(clusterArg);
      const cluster = await ctx.cluster(name);
      const interval = watchInterval(o);
      let client: pg.Client | null = null;
      try {
        for (;;) {
          let result: QueryResult;
          try {
            client ??= await connect(cluster, o, password);
            result = await runQuery(client, sql, o);
          } catch (e) {
            await client?.end().catch(() => undefined);
            client = null;
            result = sqlErrorResult(e);
          }
          const text = formatOutput(result.columns, result.rows, { fmt: o.format, delimiter: o.delimiter });
          process.stdout.write(`${text}\n`);
          if (!interval) return;
          await new Promise((r) => setTimeout(r, interval * 1000));
        }
      } finally {
        await client?.end().catch(() => undefined);
      }
    }));
}
