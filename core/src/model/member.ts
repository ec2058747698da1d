import { JSON_LIMITS, isPlainObject, truthy, valueDepthExceeds } from '../util/json.js';
import { clearMalformed, excerpt, parseStoredJson, reportMalformed } from './malformed.js';
import { buildUri, parseConnectionString, parseIntLoose } from './names.js';

export type Version = number | string;
export type Session = number | string | null;

/** Tag semantics shared by members read from the DCS and the local node's configuration. */
export class Tags {
  constructor(readonly tags: Readonly<Record<string, unknown>>) {}

  /** `nofailover` wins over `failover_priority`; priority <= 0 also means "never promote". */
  get nofailover(): boolean {
    const fromTags = this.tags.nofailover;
    if (fromTags !== undefined && fromTags !== null) return truthy(fromTags);
    const prio = parseIntLoose(this.tags.failover_priority);
    return prio !== null && prio <= 0;
  }

  get failoverPriority(): number {
    if (truthy(this.tags.nofailover)) return 0;
    return parseIntLoose(this.tags.failover_priority) ?? 1;
  }

  get noloadbalance(): boolean { return truthy(this.tags.noloadbalance); }
  get nosync(): boolean { return truthy(this.tags.nosync); }
  get nostream(): boolean { return truthy(this.tags.nostream); }
  get replicatefrom(): string | null {
    const v = this.tags.replicatefrom;
    return typeof v === 'string' && v ? v : null;
  }
  get syncPriority(): number {
    if (this.nosync) return 0;
    return parseIntLoose(this.tags.sync_priority) ?? 1;
  }
}

/** One `/members/<name>` key: name, version for CAS, session/lease and the member JSON. */
export class Member extends Tags {
  constructor(
    readonly version: Version,
    readonly name: string,
    readonly session: Session,
    readonly data: Record<string, unknown>,
  ) {
    super(isPlainObject(data.tags) ? data.tags : {});
  }

  /**
   * Tolerant parser: a legacy `postgres://…?application_name=<api_url>` value, a JSON object,
   * or anything else (malformed JSON, arrays, numbers) which yields empty data, never an exception.
   */
  static fromNode(version: Version, name: string, session: Session, value: unknown): Member {
    const key = `members/${name}`;
    let data: Record<string, unknown> = {};
    if (typeof value === 'string' && value.startsWith('postgres')) {
      try {
        const [connUrl, apiUrl] = parseConnectionString(value);
        data = { conn_url: connUrl, api_url: apiUrl };
      } catch {
        reportMalformed(key, `unparseable connection string ${excerpt(value)}`);
      }
    } else if (isPlainObject(value)) {
      if (valueDepthExceeds(value, JSON_LIMITS.maxDepth)) reportMalformed(key, `nested deeper than ${JSON_LIMITS.maxDepth} levels`);
      else data = { ...value };
    } else if (typeof value === 'string') {
      const parsed = parseStoredJson(key, value);
      if (isPlainObject(parsed)) {
        data = parsed;
        clearMalformed(key);
      } else if (parsed !== undefined) reportMalformed(key, `not a JSON object: ${excerpt(parsed)}`);
    }
    return new Member(version, name, session, data);
  }

  get connUrl(): string | null {
    const url = this.data.conn_url;
    if (typeof url === 'string' && url) return url;
    const kw = this.data.conn_kwargs;
    if (isPlainObject(kw) && typeof kw.host === 'string') {
      const port = typeof kw.port === 'number' || typeof kw.port === 'string' ? kw.port : 5432;
      return buildUri('postgresql', kw.host, port);
    }
    return null;
  }

  get apiUrl(): string | null {
    const url = this.data.api_url;
    return typeof url === 'string' && url ? url : null;
  }

  /**
   * libpq keyword arguments: `conn_kwargs` from the member data, or host/port/dbname parsed from
   * conn_url; then `auth` merged on top (None values dropped, `username` renamed to `user`).
   */
  connKwargs(auth?: Record<string, unknown> | null): Record<string, unknown> {
    let ret: Record<string, unknown>;
    const kw = this.data.conn_kwargs;
    if (isPlainObject(kw) && Object.keys(kw).length) {
      ret = { host: null, port: null, dbname: null, ...kw };
    } else {
      const url = this.connUrl;
      if (!url) return {};
      try {
        const u = new URL(url);
        ret = {
          host: u.hostname.replace(/^\[|\]$/g, '') || null,
          port: u.port ? Number(u.port) : 5432,
          dbname: decodeURIComponent(u.pathname.slice(1)),
        };
      } catch {
        return {};
      }
    }
    if (auth && isPlainObject(auth)) {
      for (const [k, v] of Object.entries(auth)) if (v !== null && v !== undefined) ret[k] = v;
      if ('username' in ret) {
        ret.user = ret.username;
        delete ret.username;
      }
    }
    return ret;
  }

  get state(): string { return typeof this.data.state === 'string' ? this.data.state : 'unknown'; }
  get role(): string | null { return typeof this.data.role === 'string' ? this.data.role : null; }
  get isRunning(): boolean { return this.state === 'running'; }
  get tagsData(): Record<string, unknown> { return isPlainObject(this.data.tags) ? this.data.tags : {}; }

  /** A member is a clone source when tagged `clonefrom` and reachable via a connection URL. */
  get clonefrom(): boolean { return truthy(this.tags.clonefrom) && !!this.connUrl; }

  /** WAL position the member last reported (`xlog_location`). */
  get lsn(): number | null { return parseIntLoose(this.data.xlog_location); }

  get timeline(): number | null { return parseIntLoose(this.data.timeline); }

  /** Patroni version as a tuple, e.g. "1.2.3" -> [1, 2, 3]; null when absent or malformed. */
  get patroniVersion(): number[] | null {
    const v = this.data.version;
    if (typeof v !== 'string' || !v) return null;
    const parts = v.split('.');
    if (!parts.every((p) => /^\d+$/.test(p))) return null;
    return parts.map(Number);
  }
}

/** A remote primary for a standby cluster; only the standby_cluster keys are readable from its data. */
export class RemoteMember extends Member {
  static readonly ALLOWED_KEYS = [
    'primary_slot_name', 'create_replica_methods', 'restore_command', 'archive_cleanup_command',
    'recovery_min_apply_delay', 'no_replication_slot',
  ] as const;

  constructor(name: string, data: Record<string, unknown>) {
    super(-1, name, null, data);
  }

  get(key: (typeof RemoteMember.ALLOWED_KEYS)[number]): unknown {
    return this.data[key];
  }
}

/** Compare version tuples like Python tuples. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}
