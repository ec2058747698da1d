/**
 * The agent's one lease (TTL = ttl) carrying its member key and, when leader, the leader key.
 * Kept alive only when the HA loop asks (touchMember / updateLeader): a member at most once per
 * max(loop_wait, ttl/3), a leader once per cycle (see minGapMs),
 * like Patroni: a frozen agent must lose its keys.
 *
 * Validity is judged from the moment a keep-alive was SENT: etcd restarts the TTL when it
 * receives the request, which is never earlier. A keep-alive answered after the lease could
 * already have run out is treated as lost, so a leader never believes in a lease etcd dropped.
 */
import { EtcdLeaseInvalidError, type Etcd3 } from 'etcd3';
import type { DeadlineCaller } from './client.js';
import { KeepAliveChannel, type KeepAliveTarget } from './keepalive-stream.js';

export interface LeaseState {
  /** Lease id (an int64 as a decimal string). */
  readonly id: string;
  /** True when this call granted a new lease: keys bound to the old one must be put again. */
  readonly renewed: boolean;
  /**
   * The store revision etcd's answer carried when this call kept the lease alive; null when no
   * keep-alive went out (renewed recently enough) or a new lease was granted.
   */
  readonly revision: number | null;
}

/** A leader renews unless a keep-alive went out this recently (minGapMs says why half a second). */
const LEADER_MIN_GAP_MS = 500;

export class AgentLease {
  private id: string | null = null;
  /** performance.now() ms until which the lease is certainly alive on the server. */
  private validUntil = 0;
  private lastSent = -Infinity;
  private readonly channel: KeepAliveChannel;

  constructor(
    private readonly client: Etcd3,
    private readonly caller: DeadlineCaller,
    private ttl: number,
    private loopWait: number,
    target: KeepAliveTarget,
  ) {
    this.channel = new KeepAliveChannel(target);
  }

  /** The current lease id if it is still certainly valid, else null. */
  get current(): string | null {
    return this.id !== null && performance.now() < this.validUntil ? this.id : null;
  }

  get validUntilMs(): number {
    return this.validUntil;
  }

  /** performance.now() when the renewal that keeps the current lease alive was sent (its TTL runs from no earlier). */
  get sentAt(): number | null {
    return this.current === null ? null : this.validUntil - this.ttl * 1000;
  }

  /** New TTL: the next refresh grants a new lease (Patroni's set_ttl); the old one just expires. */
  setTtl(ttl: number): void {
    if (ttl !== this.ttl) {
      this.ttl = ttl;
      this.forget();
    }
  }

  setLoopWait(loopWait: number): void {
    this.loopWait = loopWait;
  }

  forget(): void {
    this.id = null;
    this.validUntil = 0;
    this.lastSent = -Infinity;
  }

  /**
   * Make sure a valid lease exists: keep the current one alive (unless refreshed recently, see
   * minGapMs),
   * or grant a new one when it expired, was revoked, or its keep-alive came back too late.
   */
  async refresh(left: () => number = () => this.caller.budgetMs, forLeader = false): Promise<LeaseState> {
    const now = performance.now();
    if (this.id !== null && now < this.validUntil) {
      if (now - this.lastSent < this.minGapMs(forLeader)) return { id: this.id, renewed: false, revision: null };
      const revision = await this.keepAlive(this.id, left);
      if (revision !== null) return { id: this.id, renewed: false, revision };
    }
    return { id: await this.grant(left), renewed: true, revision: null };
  }

  /**
   * Members renew at most once per max(loop_wait, ttl/3): a third of the TTL leaves two more chances
   * before the member key would expire, and costs etcd a keep-alive every ttl/3 instead of every
   * cycle. A leader's lock refresh renews unless one went out
   * within the last half second: the fence's deadline counts from the renewal, so a keep-alive skipped
   * because the member touch sent one almost a loop_wait ago would bring the deadline closer by
   * that much. Half, not a whole second: at loop_wait 1 the cycles come about a second apart, a
   * few milliseconds either way, and a whole second skipped every other renewal, each skipped one
   * then checking the key by transaction (the driver's cachedLeaderIsMine needs a fresh revision).
   * Extra wake-ups of the loop (REST requests) still cost at most two per second.
   */
  private minGapMs(forLeader: boolean): number {
    return forLeader ? LEADER_MIN_GAP_MS : Math.max(this.loopWait, this.ttl / 3) * 1000;
  }

  private async grant(left: () => number): Promise<string> {
    this.forget();
    let sent = 0;
    const res = await this.caller.run('lease grant', (o) => {
      sent = performance.now();
      return this.client.leaseClient.leaseGrant({ TTL: this.ttl }, o);
    }, left());
    const ttl = Math.min(this.ttl, Number(res.TTL) || this.ttl);
    this.id = res.ID;
    this.lastSent = sent;
    this.validUntil = sent + ttl * 1000;
    return res.ID;
  }

  /**
   * The answer's revision when the lease was renewed in time; null when it is gone (expired, revoked
   * or too late).
   */
  private async keepAlive(id: string, left: () => number): Promise<number | null> {
    const before = this.validUntil;
    let sent = 0;
    let ttl: number;
    let revision: number;
    try {
      ({ ttl, revision } = await this.caller.run('lease keepalive', (o) => this.channel.renew(id, o.deadline, (t) => { sent = t; }),
        Math.min(left(), before - performance.now())));
    } catch (e) {
      // Out of time before the lease could have run out: it may be gone, start over with a new one.
      if (e instanceof EtcdLeaseInvalidError || (e as { cause?: unknown }).cause instanceof EtcdLeaseInvalidError) return null;
      if (performance.now() >= before) return null;
      throw e;
    }
    // etcd answers TTL 0 for an expired or revoked lease; an answer after `before` proves nothing.
    if (ttl <= 0 || performance.now() >= before) return null;
    this.lastSent = sent;
    this.validUntil = sent + Math.min(ttl, this.ttl) * 1000;
    return revision;
  }

  /** Close the keep-alive stream (the lease itself just expires, as a dead agent's would). */
  close(): void {
    this.channel.close();
  }
}
