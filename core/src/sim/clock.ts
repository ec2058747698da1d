/**
 * Simulated time for whole-cluster simulations: a Clock whose time only moves when the scheduler
 * says so, and timers on it. Timers belong to an owner (a node's agent, its PostgreSQL, its fence):
 * a frozen owner's timers wait until it thaws, as a SIGSTOPped process's would.
 */
import type { Clock } from '../util/clock.js';

interface Timer { at: number; seq: number; owner: string; fire: () => void }

export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];
  private readonly frozen = new Set<string>();

  /** Wall clock: a fixed epoch plus simulated time. */
  now(): number { return 1_767_225_600_000 + this.t; }
  monotonic(): number { return this.t; }

  /** Resolve after `ms` of simulated time (for `owner`). */
  sleep(owner: string, ms: number): Promise<void> {
    return new Promise((resolve) => this.at(owner, this.t + Math.max(0, ms), resolve));
  }

  at(owner: string, at: number, fire: () => void): () => void {
    const timer: Timer = { at, seq: ++this.seq, owner, fire };
    this.timers.push(timer);
    return () => { this.timers = this.timers.filter((x) => x !== timer); };
  }

  /** This clock as `owner` sees it: its timers (deadlines) are the owner's, frozen with it. */
  of(owner: string): Clock {
    return { now: () => this.now(), monotonic: () => this.monotonic(), timer: (ms, fire) => this.at(owner, this.t + Math.max(0, ms), fire) };
  }

  freeze(owner: string): void { this.frozen.add(owner); }
  thaw(owner: string): void { this.frozen.delete(owner); }
  isFrozen(owner: string): boolean { return this.frozen.has(owner); }
  /** Forget a dead owner's timers (its process is gone). */
  drop(owner: string): void { this.timers = this.timers.filter((x) => x.owner !== owner); }

  /** When the next runnable timer is due (Infinity when none). */
  nextDue(): number {
    let best = Infinity;
    for (const x of this.timers) if (!this.frozen.has(x.owner) && x.at < best) best = x.at;
    return best;
  }

  /** Move time to `t` (never backwards) and fire the runnable timers due by then, earliest first. */
  advance(t: number): void {
    this.t = Math.max(this.t, t);
    for (;;) {
      let pick: Timer | null = null;
      for (const x of this.timers) {
        if (this.frozen.has(x.owner) || x.at > this.t) continue;
        if (!pick || x.at < pick.at || (x.at === pick.at && x.seq < pick.seq)) pick = x;
      }
      if (!pick) return;
      this.timers = this.timers.filter((x) => x !== pick);
      pick.fire();
    }
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
