/** Recovery settings for following a primary (PostgreSQL >= 12: postgresql.conf + standby.signal). */
import type { ReplicaSource } from '../replica/contract.js';
import { slotNameFromMemberName } from '../model/names.js';
import { formatDsn, type RecoveryMode } from './config-files.js';
import type { AuthSettings, PostgresSettings } from './settings.js';

/** libpq keywords for a source member with the given credentials (password optional). */
/**
 * Connection parameters for another member, built only from what it publishes (conn_url or
 * conn_kwargs). A member that publishes no host cannot be connected to: refuse, never fall back to
 * libpq's defaults (a local socket or localhost:5432 may be somebody else's server).
 */
export function sourceConnKwargs(source: ReplicaSource, auth: AuthSettings, withPassword: boolean): Record<string, unknown> {
  const kw = source.connKwargs({ username: auth.username, ...auth.extra, ...(withPassword && auth.password ? { password: auth.password } : {}) });
  if (typeof kw.host !== 'string' || !kw.host) {
    throw new Error(`member ${source.name} publishes no usable conn_url or conn_kwargs host: cannot connect to it`);
  }
  return kw;
}

export interface FollowOptions {
  /** Slot to stream from; default slot_name_from_member_name(name) when use_slots, null for none. */
  readonly slotName?: string | null;
}

/**
 * Standby settings: primary_conninfo with application_name = member name (the password included,
 * as Patroni does; postgresql.conf is mode 0600), primary_slot_name, recovery_target_timeline and
 * the user's `recovery_conf` (restore_command, ...). A null source means "no leader": archive only.
 */
export function standbyRecovery(s: PostgresSettings, memberName: string, source: ReplicaSource | null, opts: FollowOptions = {}): RecoveryMode {
  const params: Record<string, unknown> = { recovery_target_timeline: 'latest', ...s.recoveryConf };
  if (source) {
    const kw = sourceConnKwargs(source, s.replication, true);
    params.primary_conninfo = formatDsn({ ...kw, dbname: undefined, application_name: memberName });
    const slot = opts.slotName === undefined ? (s.useSlots ? slotNameFromMemberName(memberName) : null) : opts.slotName;
    if (slot) params.primary_slot_name = slot;
  }
  return { kind: 'standby', params };
}
