/**
 * Services a plugin may declare in its manifest's `uses` and receive, exactly those, in
 * `ctx.services`. Plugins never see the core's DI container.
 */
import type { ReplicaSource } from './replica.js';

/** Minimal logger shape; pino loggers satisfy it. Log through it, never console.* (it reaches pgha's log). */
export interface Logger {
  debug(msg: string, ...args: unknown[]): void;
  debug(obj: object, msg?: string, ...args: unknown[]): void;
  info(msg: string, ...args: unknown[]): void;
  info(obj: object, msg?: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  warn(obj: object, msg?: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
  error(obj: object, msg?: string, ...args: unknown[]): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** Monotonic ms (timeouts): never jumps with NTP. */
  monotonic(): number;
}

/** One cluster member as last read from the DCS (API 1.1). */
export interface MemberView extends ReplicaSource {
  readonly name: string;
  /** `primary`, `replica`, `standby_leader`, ... as the member publishes it; null when unknown. */
  readonly role: string | null;
  /** `running`, `starting`, `creating replica`, ... */
  readonly state: string;
  /** The member's REST endpoint (`http://host:8008/patroni`), or null. */
  readonly apiUrl: string | null;
  /** WAL position the member last published (bytes), or null. */
  readonly lsn: number | null;
  readonly isLeader: boolean;
  readonly tags: Readonly<Record<string, unknown>>;
}

/** Read-only view of the cluster's members (API 1.1; replica methods only). */
export interface MembersService {
  /** Members as the DCS lists them now (one read); this member included. */
  list(): Promise<readonly MemberView[]>;
}

export interface PluginServices {
  /** The effective configuration (local merged with dynamic), as a plain object. Read-only. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  readonly clock: Clock;
  /** WHATWG fetch that talks to members' REST APIs the way pgha does (TLS settings honoured). */
  readonly http: typeof fetch;
  /** API 1.1, replica methods only. */
  readonly members: MembersService;
}

export type ServiceName = keyof PluginServices;

/** The API version that introduced each service, and the plugin kinds that may declare it. */
export const SERVICES: Readonly<Record<ServiceName, { readonly since: string; readonly kinds: readonly ('dcs' | 'replica')[] }>> = {
  config: { since: '1.0', kinds: ['dcs', 'replica'] },
  logger: { since: '1.0', kinds: ['dcs', 'replica'] },
  clock: { since: '1.0', kinds: ['dcs', 'replica'] },
  http: { since: '1.0', kinds: ['dcs', 'replica'] },
  // The DCS is what members are read from: a DCS plugin cannot use it.
  members: { since: '1.1', kinds: ['replica'] },
};
