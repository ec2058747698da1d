/**
 * Checks over a finished fault scenario, each returning a list of problems (empty = fine).
 */
import type { KvCommand, KvEnvelope, KvResult } from '../kv/commands.js';
import { KvState } from '../kv/state.js';
import type { ScenarioResult } from './fault-scenario.js';
import { TTL_MS } from './fault-scenario.js';

/** Every committed index 1..max was applied somewhere, and replaying them gives each node's state. */
export function checkConvergence(r: ScenarioResult): string[] {
  const problems: string[] = [];
  const { sim } = r;
  const max = Math.max(0, ...sim.applied.keys());
  const replay = new KvState();
  for (let i = 1; i <= max; i++) {
    const rec = sim.applied.get(i);
    if (!rec) {
      problems.push(`committed index ${i} was never applied by any node`);
      continue;
    }
    if (rec.data !== '') replay.apply(rec.data, i);
  }
  const expected = JSON.stringify(replay.list(''));
  for (const m of sim.live()) {
    if (m.node.appliedIndex !== max) problems.push(`${m.id} applied ${m.node.appliedIndex}, cluster committed ${max}`);
    if (JSON.stringify(m.state.list('')) !== expected) problems.push(`${m.id} state differs from the replayed log`);
  }
  return problems;
}

/** An acknowledged command sits in the log at the index it reported. */
export function checkAcknowledged(r: ScenarioResult): string[] {
  const problems: string[] = [];
  for (const [rid, index] of r.acknowledged) {
    const rec = r.sim.applied.get(index);
    if (!rec || (JSON.parse(rec.data) as KvEnvelope).rid !== rid) problems.push(`acknowledged ${rid} at ${index} is not in the log there`);
  }
  return problems;
}

/**
 * TTL keys: each version expires at most once, never before TTL has passed since it was committed,
 * and (after the calm period) every version that was not overwritten or deleted did expire.
 */
export function checkExpiry(r: ScenarioResult): string[] {
  const problems: string[] = [];
  const log = [...r.sim.applied.entries()].sort((a, b) => a[0] - b[0]).filter(([, rec]) => rec.data !== '');
  const live = new Map<string, { index: number; at: number }>();
  const expired = new Set<string>();
  let expiries = 0;
  for (const [index, rec] of log) {
    const cmd = (JSON.parse(rec.data) as KvEnvelope).cmd as KvCommand;
    const res = JSON.parse(rec.result) as KvResult;
    // A retried request (same rid) re-reports its first result and changes nothing.
    if (!res.ok || res.index !== index) continue;
    if (cmd.op === 'set') {
      if (cmd.ttlMs !== null) live.set(cmd.key, { index, at: rec.at });
      else live.delete(cmd.key);
    } else if (cmd.op === 'del') live.delete(cmd.key);
    else if (cmd.op === 'expire') {
      expiries++;
      const v = `${cmd.key}@${cmd.index}`;
      if (expired.has(v)) problems.push(`${v} expired twice`);
      expired.add(v);
      const cur = live.get(cmd.key);
      if (!cur || cur.index !== cmd.index) problems.push(`expiry of ${v} applied to a different version`);
      else if (rec.at - cur.at < TTL_MS) problems.push(`${v} expired ${rec.at - cur.at} ms after its commit (ttl ${TTL_MS})`);
      live.delete(cmd.key);
    }
  }
  for (const [key, v] of live) problems.push(`${key}@${v.index} never expired`);
  if (expiries === 0) problems.push('no key expired during the run');
  return problems;
}
