/**
 * The remote source of a standby cluster and the recovery settings it implies (Patroni's
 * get_remote_member and build_recovery_params): host/port become the RemoteMember's conn_kwargs;
 * `primary_slot_name` the slot on the remote (none when not given); `restore_command` and
 * `archive_cleanup_command` apply to every member of the standby cluster, `recovery_min_apply_delay`
 * to the standby leader only (the one that follows the remote).
 */
import { RemoteMember, type Member } from '../model/member.js';
import { slotNameFromMemberName } from '../model/names.js';
import type { Leader } from '../model/values.js';
import { isPlainObject } from '../util/json.js';

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

/** Is this `standby_cluster` value a usable section (host, port or restore_command)? */
export function isStandbySection(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && (present(v.host) || present(v.port) || present(v.restore_command));
}

/** The RemoteMember to clone from and stream from; null when the section is not usable. */
export function remoteMember(section: unknown): RemoteMember | null {
  if (!isStandbySection(section)) return null;
  const data: Record<string, unknown> = {};
  for (const k of RemoteMember.ALLOWED_KEYS) if (present(section[k])) data[k] = section[k];
  data.no_replication_slot = !present(section.primary_slot_name);
  const kw: Record<string, unknown> = {};
  if (present(section.host)) kw.host = String(section.host);
  if (present(section.port)) kw.port = String(section.port);
  if (Object.keys(kw).length) data.conn_kwargs = kw;
  return new RemoteMember('remote_member', data);
}

/** The remote's create_replica_methods (undefined: the local postgresql.create_replica_methods). */
export function remoteReplicaMethods(section: unknown): string[] | undefined {
  if (!isStandbySection(section)) return undefined;
  const m = section.create_replica_methods;
  return Array.isArray(m) && m.length && m.every((x) => typeof x === 'string') ? (m as string[]) : undefined;
}

/** The slot to stream from: for the remote, its primary_slot_name (or none); undefined = the member default. */
export function followSlot(source: Member | Leader | null): string | null | undefined {
  if (!(source instanceof RemoteMember)) return undefined;
  return source.get('no_replication_slot') === true ? null : slotNameFromMemberName(String(source.get('primary_slot_name')));
}

/** Recovery settings the standby_cluster section adds on top of the member's own (for `source`). */
export function standbyOverrides(section: unknown, source: Member | Leader | null): Record<string, unknown> {
  if (!isStandbySection(section)) return {};
  const keys = ['restore_command', 'archive_cleanup_command', ...(source instanceof RemoteMember ? ['recovery_min_apply_delay'] : [])];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (present(section[k])) out[k] = section[k];
  return out;
}

/** A source the replication connection can reach (a remote with only restore_command has none). */
export function hasConnection(source: Member | Leader | null): boolean {
  return !!source && !!source.connUrl;
}
