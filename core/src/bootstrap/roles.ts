/** Roles pgha creates after bootstrap: superuser password, replication user, rewind user with its grants. */
import { quoteIdent, quoteLiteral } from '../postgres/monitor.js';

type Query = (sql: string) => Promise<unknown>;

/** Functions pg_rewind calls on the source; a non-superuser rewind role needs EXECUTE on them. */
export const REWIND_FUNCTIONS = [
  'pg_ls_dir(text, boolean, boolean)',
  'pg_stat_file(text, boolean)',
  'pg_read_binary_file(text)',
  'pg_read_binary_file(text, bigint, bigint, boolean)',
] as const;

/** CREATE or ALTER a LOGIN role; statement logging is off inside so the password stays out of the server log. */
export function createOrUpdateRoleSql(name: string, password: string | null, options: readonly string[]): string {
  const opts = [...options, 'LOGIN'].join(' ');
  const pw = password === null ? '' : ` PASSWORD ${quoteLiteral(password)}`;
  const ident = quoteIdent(name);
  return `DO $pgha$
BEGIN
  SET local synchronous_commit = 'local';
  SET local log_statement = 'none';
  SET local log_min_duration_statement = -1;
  PERFORM * FROM pg_catalog.pg_authid WHERE rolname = ${quoteLiteral(name)};
  IF FOUND THEN
    ALTER ROLE ${ident} WITH ${opts}${pw};
  ELSE
    CREATE ROLE ${ident} WITH ${opts}${pw};
  END IF;
END;$pgha$`;
}

export async function createOrUpdateRole(query: Query, name: string, password: string | null, options: readonly string[]): Promise<void> {
  await query(createOrUpdateRoleSql(name, password, options));
}

export async function grantRewindFunctions(query: Query, role: string): Promise<void> {
  for (const f of REWIND_FUNCTIONS) {
    await query(`DO $pgha$
BEGIN
  SET local synchronous_commit = 'local';
  GRANT EXECUTE ON function pg_catalog.${f} TO ${quoteIdent(role)};
END;$pgha$`);
  }
}
