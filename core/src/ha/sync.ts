/**
 * Synchronous replication on the leader (reference §2.10, Patroni's docs/replication_modes.rst), as
 * pure functions: parse and write `synchronous_standby_names`, pick the standbys, and order the
 * changes to PostgreSQL and `/sync` so that `/sync` never names a standby PostgreSQL does not wait
 * for. The agent's SyncRunner does the IO and keeps the little state between cycles.
 *
 * The rule that makes failover lossless: a member is written to `/sync` only after it is in
 * `synchronous_standby_names` AND has been seen streaming as `sync` past the primary's flush LSN of
 * the moment the setting changed (every commit acknowledged since then waited for it); a member
 * leaves `/sync` before it leaves `synchronous_standby_names`.
 */

export const SYNC_STRICT_PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__';

export type SyncType = 'off' | 'priority' | 'quorum';

/** A parsed `synchronous_standby_names`. Names compare case-insensitively (stored lower-case in `keys`). */
export interface ParsedSsn {
  readonly type: SyncType;
  readonly hasStar: boolean;
  readonly num: number;
  /** Listed names as written (placeholder-only lists read as empty). */
  readonly members: readonly string[];
}

export const EMPTY_SSN: ParsedSsn = { type: 'off', hasStar: false, num: 0, members: [] };

const lower = (s: string) => s.toLowerCase();
/** Case-insensitive set operations over names. */
export const names = {
  has: (set: Iterable<string>, name: string) => [...set].some((x) => lower(x) === lower(name)),
  equal: (a: Iterable<string>, b: Iterable<string>) => {
    const x = new Set([...a].map(lower));
    const y = new Set([...b].map(lower));
    return x.size === y.size && [...x].every((n) => y.has(n));
  },
  intersect: (a: Iterable<string>, b: Iterable<string>) => [...a].filter((n) => names.has(b, n)),
  minus: (a: Iterable<string>, b: Iterable<string>) => [...a].filter((n) => !names.has(b, n)),
  union: (a: Iterable<string>, b: Iterable<string>) => [...a, ...names.minus(b, a)],
  sorted: (a: Iterable<string>) => [...a].sort(),
};

type Token = { kind: 'first' | 'any' | 'ident' | 'dquot' | 'star' | 'num' | 'comma' | 'open' | 'close' | 'junk'; text: string; at: number };

const TOKEN_RE = /([fF][iI][rR][sS][tT])(?![A-Za-z_0-9$])|([aA][nN][yY])(?![A-Za-z_0-9$])|(\s+)|([A-Za-z_][A-Za-z_0-9$]*)|("(?:[^"]|"")*")|(\*)|(\d+)|(,)|(\()|(\))|(.)/gy;
const KINDS: Array<Token['kind'] | 'space'> = ['first', 'any', 'space', 'ident', 'dquot', 'star', 'num', 'comma', 'open', 'close', 'junk'];

function tokenize(value: string): Token[] {
  const out: Token[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(value)) !== null) {
    const i = m.slice(1).findIndex((g) => g !== undefined);
    const kind = KINDS[i]!;
    if (kind !== 'space') out.push({ kind, text: m[0], at: m.index });
  }
  return out;
}

/**
 * Parse `synchronous_standby_names` as PostgreSQL reads it: `a, b`, `N (a, b)`, `FIRST N (...)`,
 * `ANY N (...)`, `*`, quoted names. Throws on what PostgreSQL would refuse.
 */
export function parseSyncStandbyNames(value: string): ParsedSsn {
  if (value.length > 10_000) throw new Error('Unparsable synchronous_standby_names value: too long');
  const t = tokenize(value);
  if (!t.length) return EMPTY_SSN;
  const kinds = t.slice(0, 3).map((x) => x.kind).join(' ');
  const closes = t[t.length - 1]!.kind === 'close';
  let type: SyncType = 'priority';
  let num = 1;
  let list = t;
  if (kinds === 'any num open' && closes) [type, num, list] = ['quorum', Number(t[1]!.text), t.slice(3, -1)];
  else if (kinds === 'first num open' && closes) [num, list] = [Number(t[1]!.text), t.slice(3, -1)];
  else if (kinds.startsWith('num open') && closes) [num, list] = [Number(t[0]!.text), t.slice(2, -1)];
  let hasStar = false;
  const members: string[] = [];
  list.forEach((tok, i) => {
    if (i % 2 === 1) {
      if (i === list.length - 1 || tok.kind !== 'comma') throw new Error(`Unparsable synchronous_standby_names value ${JSON.stringify(value)}: unexpected ${tok.kind} ${JSON.stringify(tok.text)} at ${tok.at}`);
    } else if (tok.kind === 'ident' || tok.kind === 'first' || tok.kind === 'any') members.push(tok.text);
    else if (tok.kind === 'star') { members.push('*'); hasStar = true; }
    else if (tok.kind === 'dquot') members.push(tok.text.slice(1, -1).replace(/""/g, '"'));
    else throw new Error(`Unparsable synchronous_standby_names value ${JSON.stringify(value)}: unexpected ${tok.kind} ${JSON.stringify(tok.text)} at ${tok.at}`);
  });
  const onlyPlaceholder = members.length === 1 && lower(members[0]!) === SYNC_STRICT_PLACEHOLDER;
  return { type, hasStar, num, members: onlyPlaceholder ? [] : members };
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z_0-9$]*$/;
/** Quote a standby name only when PostgreSQL needs it (and never leave `first`/`any` bare). */
export function quoteStandbyName(name: string): string {
  return PLAIN_NAME.test(name) && !['first', 'any'].includes(lower(name)) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The value Patroni writes: one name bare; several as `N (a,b)`; quorum mode `ANY N (...)`; with no
 * names but `num >= 1` (strict) the placeholder nobody can match, so commits wait. Null: unset.
 */
export function formatSyncStandbyNames(sync: readonly string[], num: number | null, quorumMode: boolean): string | null {
  const strict = sync.includes('*') || (num !== null && num >= 1 && sync.length === 0);
  const list = strict ? [SYNC_STRICT_PLACEHOLDER] : names.sorted(sync).map(quoteStandbyName);
  const n = num ?? list.length;
  let value: string | null = list.length > 1 ? list.join(',') : list[0] ?? null;
  if ((quorumMode && list.length) || list.length > 1) value = `${quorumMode ? 'ANY ' : ''}${n} (${value})`;
  return value;
}

/** One row of pg_stat_replication joined with its member. */
export interface ReplicaRow {
  readonly name: string;
  readonly pid: number;
  readonly syncState: string;
  /** write/flush/replay LSN by synchronous_commit (flush by default). */
  readonly lsn: number;
  readonly nofailover: boolean;
  readonly syncPriority: number;
}

/** The leader's view of synchronous replication this cycle (Patroni's _SyncState). */
export interface SyncSnapshot {
  readonly type: SyncType;
  /** How many must confirm, per synchronous_standby_names (0 with `*`). */
  readonly numsync: number;
  /** Names in synchronous_standby_names (the placeholder when it has `*`). */
  readonly sync: readonly string[];
  /** Listed, streaming and known to have caught up since they were listed. */
  readonly confirmed: readonly string[];
  /** Streaming and eligible, best first (the standbys we want). */
  readonly active: readonly string[];
  /** Listed standbys that reached the flush LSN of the last change (streaming or not). */
  readonly ready?: readonly string[];
}

export interface SelectionSettings {
  readonly nodeCount: number;
  /** maximum_lag_on_syncnode; <= 0 off. */
  readonly maxLag: number;
  readonly quorum: boolean;
}

const STATE_RANK: Record<string, number> = { async: 0, potential: 1, quorum: 2, sync: 3 };

/** Best first: higher sync_priority, then `sync` before others, then the most advanced; members without nofailover first. */
export function rankReplicas(rows: readonly ReplicaRow[]): ReplicaRow[] {
  const byQuality = [...rows].sort((a, b) => b.syncPriority - a.syncPriority
    || (STATE_RANK[b.syncState] ?? 0) - (STATE_RANK[a.syncState] ?? 0) || b.lsn - a.lsn);
  return [...byQuality.filter((r) => !r.nofailover), ...byQuality.filter((r) => r.nofailover)];
}

/**
 * Which standbys to use (`active`) and which of them may already be trusted (`confirmed`, always a
 * subset of `active`). `primaryLsn` is the reference for maximum_lag_on_syncnode with one replica.
 */
export function selectStandbys(rows: readonly ReplicaRow[], ready: ReadonlySet<string>, primaryLsn: number, s: SelectionSettings): { active: string[]; confirmed: string[] } {
  const ranked = rankReplicas(rows);
  const maxLsn = rows.length > 1 ? Math.max(...rows.map((r) => r.lsn)) : primaryLsn;
  const active: string[] = [];
  const confirmed: string[] = [];
  const isReady = (n: string) => ready.has(lower(n));
  for (const r of ranked) {
    if (s.maxLag > 0 && maxLsn - r.lsn > s.maxLag) continue;
    if (s.quorum) {
      // A nofailover member only fills up the count: it cannot vote itself into promotion.
      if (r.nofailover && active.length >= s.nodeCount) continue;
      active.push(r.name);
      if (isReady(r.name)) confirmed.push(r.name);
    } else {
      active.push(r.name);
      if (r.syncState === 'sync' && isReady(r.name)) confirmed.push(r.name);
      if (active.length >= s.nodeCount) break;
    }
  }
  return { active, confirmed };
}

/**
 * Which listed standbys have caught up: a name stays ready while listed; a newly listed one becomes
 * ready once it streams as `sync` (quorum mode: `quorum`) at or past `flushLsnAtChange`, or (priority
 * mode) while `/sync` already names it.
 */
export function updateReadiness(prev: ReadonlySet<string>, rows: readonly ReplicaRow[], listed: readonly string[],
  inSyncKey: (name: string) => boolean, flushLsnAtChange: number, quorum: boolean): Set<string> {
  const ready = new Set([...prev].filter((n) => names.has(listed, n)));
  for (const r of rows) {
    if (ready.has(lower(r.name)) || !names.has(listed, r.name)) continue;
    const caughtUp = r.lsn >= flushLsnAtChange;
    if (quorum ? caughtUp && r.syncState === 'quorum' : inSyncKey(r.name) || (r.syncState === 'sync' && caughtUp)) ready.add(lower(r.name));
  }
  return ready;
}
