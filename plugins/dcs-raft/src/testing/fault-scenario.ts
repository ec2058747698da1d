/**
 * One seeded randomized run against a SimCluster: clients doing read / write / compare-and-swap on
 * one register and TTL keys with refreshes, while a chaos loop crashes and restarts members,
 * partitions the network and changes drop / delay / duplication rates. Then the network heals,
 * everyone restarts, and the run settles so convergence can be checked.
 */
import { KvUnavailableError } from '../kv/api.js';
import type { KvEnvelope, KvResult } from '../kv/commands.js';
import type { KvMember } from '../kv/member.js';
import type { HistoryOp } from './linearizability.js';
import { SimCluster } from './sim-cluster.js';

export const REGISTER = 'reg';
export const TTL_MS = 300;

export interface ScenarioOptions {
  seed: number;
  size?: number;
  chaosMs?: number;
  clients?: number;
  /** Serve reads from a random member's local state without a read barrier (a deliberate bug). */
  staleReads?: boolean;
}

export interface ScenarioResult {
  sim: SimCluster;
  history: HistoryOp[];
  /** rid -> the index its command reported, for acknowledged writes. */
  acknowledged: Map<string, number>;
  unexpectedErrors: string[];
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const sim = new SimCluster({ seed: o.seed, size: o.size ?? 3 });
  const rng = sim.rng;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const history: HistoryOp[] = [];
  const acknowledged = new Map<string, number>();
  const unexpectedErrors: string[] = [];
  const written: string[] = [];
  /** history position -> rid of operations whose client never learned the outcome. */
  const unknown = new Map<number, string>();
  let stop = false;
  const opTimeout = 1000;

  const anyLive = async (): Promise<KvMember> => {
    for (;;) {
      const live = sim.live();
      if (live.length) return pick(live);
      await sim.sleep(20);
    }
  };
  const outcome = (e: unknown): null => {
    if (!(e instanceof KvUnavailableError)) unexpectedErrors.push(String(e));
    return null;
  };

  const client = async (c: number) => {
    let seen: string | null = null;
    for (let k = 0; !stop; k++) {
      await sim.sleep(Math.floor(rng() * 40));
      const m = await anyLive();
      const invoke = sim.now;
      const roll = rng();
      const rid = `c${c}-${k}`;
      if (roll < 0.4) {
        let result: string | null | undefined;
        try {
          result = o.staleReads ? (m.state.get(REGISTER)?.value ?? null) : ((await m.list(REGISTER, opTimeout)).find((e) => e.key === REGISTER)?.value ?? null);
          seen = result;
        } catch (e) {
          outcome(e);
          continue; // an unanswered read has no effect: leave it out of the history
        }
        history.push({ client: c, op: { kind: 'read', result }, invoke, complete: sim.now });
      } else {
        const value = `v${c}.${k}`;
        written.push(value);
        const isWrite = roll > 0.9;
        const expected = rng() < 0.7 ? seen : written.length > 1 ? pick(written) : null;
        const cmd = isWrite
          ? { op: 'set' as const, key: REGISTER, value, ttlMs: null }
          : expected === null
            ? { op: 'set' as const, key: REGISTER, value, ttlMs: null, ifAbsent: true }
            : { op: 'set' as const, key: REGISTER, value, ttlMs: null, prevValue: expected };
        let ok: boolean | null;
        try {
          const r = await m.submit(cmd, opTimeout, rid);
          acknowledged.set(rid, r.index);
          ok = r.ok;
          if (ok) seen = value;
        } catch (e) {
          ok = outcome(e);
        }
        const op = isWrite ? { kind: 'write' as const, value } : { kind: 'cas' as const, expected, value, ...(ok === null ? {} : { result: ok }) };
        history.push({ client: c, op, invoke, complete: ok === null ? null : sim.now });
        if (ok === null) unknown.set(history.length - 1, rid);
      }
    }
  };

  // Sessions: a key with a TTL, refreshed a few times by compare-and-swap on its value, then abandoned.
  const ttlClient = async () => {
    for (let k = 0; !stop; k++) {
      const key = `ttl/${k % 4}`;
      const value = `owner${k}`;
      const m = await anyLive();
      try {
        const r = await m.submit({ op: 'set', key, value, ttlMs: TTL_MS }, opTimeout);
        for (let i = 0; r.ok && i < 1 + Math.floor(rng() * 3) && !stop; i++) {
          await sim.sleep(TTL_MS / 3);
          await (await anyLive()).submit({ op: 'set', key, value, ttlMs: TTL_MS, prevValue: value }, opTimeout);
        }
      } catch (e) {
        outcome(e);
      }
      await sim.sleep(Math.floor(rng() * TTL_MS * 2));
    }
  };

  const chaos = async () => {
    while (!stop) {
      await sim.sleep(100 + Math.floor(rng() * 400));
      if (stop) break;
      const roll = rng();
      const down = sim.ids.filter((id) => !sim.member(id));
      // Mostly a minority down (the cluster should make progress), sometimes a majority.
      const maxDown = rng() < 0.15 ? sim.ids.length : Math.floor((sim.ids.length - 1) / 2);
      if (roll < 0.2 && down.length < maxDown) sim.crash(pick(sim.ids.filter((id) => sim.member(id))));
      else if (roll < 0.45 && down.length) sim.restart(pick(down));
      else if (roll < 0.6) {
        const shuffled = [...sim.ids].sort(() => rng() - 0.5);
        const cut = 1 + Math.floor(rng() * (shuffled.length - 1));
        sim.heal();
        sim.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      } else if (roll < 0.85) sim.heal();
      else {
        sim.faults = { dropRate: rng() * 0.2, duplicateRate: rng() * 0.1, minDelayMs: 1, maxDelayMs: 2 + Math.floor(rng() * 60) };
      }
    }
  };

  const tasks = [chaos(), ttlClient(), ...Array.from({ length: o.clients ?? 3 }, (_, c) => client(c))];
  await sim.run(o.chaosMs ?? 15000);
  stop = true;
  // Calm: heal, restart everyone, reliable network; let in-flight operations finish and TTLs run out.
  sim.heal();
  sim.faults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 3 };
  for (const id of sim.ids) sim.restart(id);
  let settled = false;
  void Promise.all(tasks).then(() => { settled = true; });
  while (!settled) await sim.run(100);
  await sim.run(2500);
  return { sim, history: resolveUnknown(sim, history, unknown), acknowledged, unexpectedErrors };
}

/**
 * Use the committed log as the oracle for timed-out writes: one found there took effect with the
 * result recorded there (its completion time stays unknown); one not found never took effect.
 * This only adds constraints for the checker, and keeps its search small.
 */
function resolveUnknown(sim: SimCluster, history: HistoryOp[], unknown: Map<number, string>): HistoryOp[] {
  const byRid = new Map<string, KvResult>();
  for (const [index, rec] of sim.applied) {
    if (rec.data === '') continue;
    const res = JSON.parse(rec.result) as KvResult;
    if (res.index === index) byRid.set((JSON.parse(rec.data) as KvEnvelope).rid, res);
  }
  const out: HistoryOp[] = [];
  history.forEach((h, i) => {
    const rid = unknown.get(i);
    if (rid === undefined) return out.push(h);
    const res = byRid.get(rid);
    if (!res) return;
    out.push({ ...h, tookEffect: true, op: h.op.kind === 'cas' ? { ...h.op, result: res.ok } : h.op });
  });
  return out;
}
