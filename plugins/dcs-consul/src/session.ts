/**
 * The agent's one Consul session: the lease that carries its member key and, when leader, the
 * leader key (behavior `delete`, so they vanish with it). Like Patroni, its TTL is ttl/2: Consul
 * invalidates a session no earlier than its TTL after the last renewal it received, and in practice
 * at 2 × TTL, so keys outlive a dead agent by about `ttl`. Renewed at most once per loop_wait unless
 * forced (the leader forces it every cycle).
 *
 * Validity is judged from the moment a create/renew was SENT: Consul restarts the TTL when the
 * request arrives, never earlier, so `sentAt + TTL` is a lower bound for the session's end.
 */
import type { CallOptions, DeadlineCaller } from './client.js';
import { isInvalidSessionTtl, statusOf } from './client.js';
import type Consul from 'consul';
import { DcsError } from '@pgha/core';

/** Patroni's lock_delay: a key an expired leader held is free again at once. */
const LOCK_DELAY = '1ms';

export interface SessionState {
  readonly id: string;
  /** True when this call created a new session: keys bound to the old one must be written again. */
  readonly created: boolean;
}

export class AgentSession {
  private id: string | null = null;
  private sessionTtl: number;
  private lastSent = -Infinity;
  /** performance.now() ms before which Consul cannot have invalidated the session. */
  private safeUntil = 0;

  constructor(
    private readonly client: Consul,
    private readonly caller: DeadlineCaller,
    private readonly name: string,
    private readonly checks: readonly string[] | undefined,
    ttl: number,
    private loopWait: number,
  ) {
    this.sessionTtl = ttl / 2;
  }

  get current(): string | null { return this.id; }
  /** The session TTL in seconds (ttl/2, or Consul's session_ttl_min when that is larger). */
  get ttlSeconds(): number { return this.sessionTtl; }
  /** When the last successful create/renew was sent (performance.now() ms), or -Infinity. */
  get sentAt(): number { return this.lastSent; }
  get safeUntilMs(): number { return this.safeUntil; }

  /** New ttl: the next refresh creates a new session (Patroni's set_ttl); the old one just expires. */
  setTtl(ttl: number): boolean {
    if (ttl / 2 === this.sessionTtl) return false;
    this.sessionTtl = ttl / 2;
    this.forget();
    return true;
  }

  setLoopWait(loopWait: number): void { this.loopWait = loopWait; }

  forget(): void {
    this.id = null;
    this.lastSent = -Infinity;
    this.safeUntil = 0;
  }

  /** Renew (or create) unless renewed within loop_wait; `force` always renews. */
  async refresh(left: () => number, force = false): Promise<SessionState> {
    const now = performance.now();
    if (this.id !== null) {
      if (!force && now - this.lastSent < this.loopWait * 1000 && now < this.safeUntil) return { id: this.id, created: false };
      if (await this.renew(this.id, left)) return { id: this.id, created: false };
    }
    return { id: await this.create(left), created: true };
  }

  private async renew(id: string, left: () => number): Promise<boolean> {
    let sent = 0;
    try {
      await this.caller.run('session renew', (o) => {
        sent = performance.now();
        return this.client.session.renew({ id, ...o } as never);
      }, left());
    } catch (e) {
      if (statusOf((e as DcsError).cause) === 404) {
        this.forget();
        return false;
      }
      throw e;
    }
    this.mark(sent);
    return true;
  }

  private mark(sent: number): void {
    this.lastSent = sent;
    this.safeUntil = sent + this.sessionTtl * 1000;
  }

  private async create(left: () => number): Promise<string> {
    this.forget();
    for (let attempt = 0; ; attempt++) {
      let sent = 0;
      try {
        const res = await this.caller.run('session create', (o: CallOptions) => {
          sent = performance.now();
          return this.client.session.create({
            name: this.name, ttl: `${this.sessionTtl}s`, behavior: 'delete', lockdelay: LOCK_DELAY,
            ...(this.checks ? { checks: [...this.checks] } : {}), ...o,
          } as never) as Promise<{ ID: string }>;
        }, left());
        this.id = res.ID;
        this.mark(sent);
        return res.ID;
      } catch (e) {
        // ttl/2 below the server's session_ttl_min: raise it to that minimum, as Patroni's adjust_ttl does.
        if (attempt === 0 && isInvalidSessionTtl((e as DcsError).cause) && await this.adjustTtl(left)) continue;
        throw e;
      }
    }
  }

  private async adjustTtl(left: () => number): Promise<boolean> {
    const self = await this.caller.run('agent self', (o) => this.client.agent.self(o as never) as Promise<Record<string, Record<string, unknown>>>, left());
    const raw = self.DebugConfig?.SessionTTLMin ?? self.Config?.SessionTTLMin;
    const min = typeof raw === 'number' ? raw / 1e9 : typeof raw === 'string' ? goDurationSeconds(raw) : null;
    if (!min || min <= this.sessionTtl) return false;
    this.sessionTtl = min;
    return true;
  }

  /** Destroy the session (its keys go with it). Best effort, for a clean shutdown. */
  async destroy(left: () => number): Promise<void> {
    const id = this.id;
    this.forget();
    if (id) await this.caller.run('session destroy', (o) => this.client.session.destroy({ id, ...o } as never), left());
  }
}

function goDurationSeconds(s: string): number | null {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let matched = '';
  while ((m = re.exec(s))) {
    matched += m[0];
    total += Number(m[1]) * { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[m[2] as 's'];
  }
  return matched === s && s ? total : null;
}
