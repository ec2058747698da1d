/**
 * Typed view of the raw `postgresql` configuration section. The config loader hands us the plain
 * object; we parse only what the PostgreSQL layer needs and keep method sections as raw objects.
 */
import { isPlainObject } from '../util/json.js';

export const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

export const BIN_NAMES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'] as const;
export type BinName = (typeof BIN_NAMES)[number];

export interface AuthSettings {
  readonly username: string;
  readonly password: string | null;
  /** libpq SSL/GSS options (sslmode, sslcert, ...), passed through as connection keywords. */
  readonly extra: Readonly<Record<string, string>>;
}

export interface PostgresSettings {
  readonly dataDir: string;
  /** Where postgresql.conf, pg_hba.conf, pg_ident.conf live (defaults to dataDir). */
  readonly configDir: string;
  readonly binDir: string;
  readonly binName: Readonly<Record<BinName, string>>;
  /** `listen`: hosts for listen_addresses and the port. */
  readonly listenAddresses: string;
  readonly port: number;
  readonly connectAddress: string | null;
  readonly pgpass: string;
  readonly customConf: string | null;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly pgHba: readonly string[] | null;
  readonly pgIdent: readonly string[] | null;
  /** Seconds to wait for start/stop (pg_ctl_timeout). */
  readonly pgCtlTimeout: number;
  readonly superuser: AuthSettings;
  readonly replication: AuthSettings;
  /** Falls back to the superuser when `authentication.rewind` is absent. */
  readonly rewind: AuthSettings;
  /** `krbsrvname`: also exported as PGKRBSRVNAME for the tools and scripts pgha runs (as Patroni). */
  readonly krbsrvname: string | null;
  readonly useUnixSocket: boolean;
  readonly usePgRewind: boolean;
  readonly useSlots: boolean;
  readonly recoveryConf: Readonly<Record<string, unknown>>;
  readonly createReplicaMethods: readonly string[];
  readonly prePromote: string | null;
  /** Run (and waited for) before every shutdown of a running PostgreSQL, after the checkpoint. */
  readonly beforeStop: string | null;
  readonly removeDataDirectoryOnRewindFailure: boolean;
  readonly removeDataDirectoryOnDivergedTimelines: boolean;
  /** The whole raw section, for per-method sections (`basebackup`, `pgbackrest`, ...). */
  readonly raw: Readonly<Record<string, unknown>>;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function bool(v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string') return ['on', 'true', 'yes', '1', 'y', 't'].includes(v.toLowerCase());
  return Boolean(v);
}

function lines(v: unknown): string[] | null {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split('\n').filter((l) => l.trim() !== '');
  return null;
}

const AUTH_KEYS = ['sslmode', 'sslkey', 'sslpassword', 'sslcert', 'sslrootcert', 'sslcrl', 'sslcrldir', 'gssencmode', 'channel_binding'];

export function parseAuth(v: unknown, fallbackUser: string): AuthSettings {
  const o = isPlainObject(v) ? v : {};
  const extra: Record<string, string> = {};
  for (const k of AUTH_KEYS) if (o[k] !== undefined && o[k] !== null) extra[k] = String(o[k]);
  return { username: str(o.username) ?? fallbackUser, password: str(o.password), extra };
}

/** `listen: "127.0.0.1,::1:5433"` -> hosts and port (the port follows the last colon). */
export function parseListen(listen: unknown, portParam: unknown): { hosts: string; port: number } {
  const s = str(listen) ?? '';
  let port = Number(str(portParam) ?? 5432);
  let hosts = s;
  const m = /^(.*):(\d+)$/.exec(s);
  if (m) {
    hosts = m[1]!;
    port = Number(m[2]);
  }
  return { hosts: hosts || '127.0.0.1', port };
}

export function parsePostgresSettings(raw: Readonly<Record<string, unknown>>): PostgresSettings {
  const dataDir = str(raw.data_dir);
  if (!dataDir) throw new Error('postgresql.data_dir is required');
  const parameters = isPlainObject(raw.parameters) ? raw.parameters : {};
  const { hosts, port } = parseListen(raw.listen, parameters.port);
  const binNames = isPlainObject(raw.bin_name) ? raw.bin_name : {};
  const binName = Object.fromEntries(BIN_NAMES.map((b) => [b, str(binNames[b]) ?? b])) as Record<BinName, string>;
  const auth = isPlainObject(raw.authentication) ? raw.authentication : {};
  const superuser = parseAuth(auth.superuser, 'postgres');
  // krbsrvname (Kerberos service name): every libpq connection to another member carries it, as
  // Patroni puts it in primary_conninfo (pg_basebackup and pg_rewind get it the same way).
  const krbsrvname = str(raw.krbsrvname);
  const withKrb = (a: AuthSettings): AuthSettings => (krbsrvname ? { ...a, extra: { ...a.extra, krbsrvname } } : a);
  const methods = raw.create_replica_methods ?? raw.create_replica_method;
  return {
    dataDir,
    configDir: str(raw.config_dir) ?? dataDir,
    binDir: str(raw.bin_dir) ?? DEFAULT_BIN_DIR,
    binName,
    listenAddresses: hosts,
    port,
    connectAddress: str(raw.connect_address),
    pgpass: str(raw.pgpass) ?? `${process.env.HOME ?? '/tmp'}/.pgpass`,
    customConf: str(raw.custom_conf),
    parameters,
    pgHba: lines(raw.pg_hba),
    pgIdent: lines(raw.pg_ident),
    pgCtlTimeout: Number(raw.pg_ctl_timeout ?? 60),
    superuser,
    replication: withKrb(parseAuth(auth.replication, 'replicator')),
    rewind: withKrb(isPlainObject(auth.rewind) ? parseAuth(auth.rewind, superuser.username) : superuser),
    krbsrvname,
    useUnixSocket: bool(raw.use_unix_socket, false),
    usePgRewind: bool(raw.use_pg_rewind, false),
    useSlots: bool(raw.use_slots, true),
    recoveryConf: isPlainObject(raw.recovery_conf) ? raw.recovery_conf : {},
    createReplicaMethods: Array.isArray(methods) ? methods.map(String) : typeof methods === 'string' ? [methods] : ['basebackup'],
    prePromote: str(raw.pre_promote),
    beforeStop: str(raw.before_stop),
    removeDataDirectoryOnRewindFailure: bool(raw.remove_data_directory_on_rewind_failure, false),
    removeDataDirectoryOnDivergedTimelines: bool(raw.remove_data_directory_on_diverged_timelines, false),
    raw,
  };
}

/**
 * As Patroni: with `krbsrvname` set, PGKRBSRVNAME goes into the agent's environment, so every libpq
 * tool and script it runs (and PostgreSQL it starts) uses that Kerberos service name. Never unset,
 * as Patroni never unsets it either.
 */
export function exportKrbsrvname(s: Pick<PostgresSettings, 'krbsrvname'>, env: NodeJS.ProcessEnv = process.env): void {
  if (s.krbsrvname) env.PGKRBSRVNAME = s.krbsrvname;
}
