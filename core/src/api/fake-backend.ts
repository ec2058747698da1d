/**
 * Test support (not used at runtime): an ApiBackend over a real Dcs on the in-memory driver, with
 * PostgreSQL facts and agent answers set directly by the test, and helpers to seed DCS keys.
 */
import { clusterBasePath } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { Tags } from '../model/member.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import type { ApiBackend, NodeStatus, RestartRequest } from './backend.js';
import { HaMetrics } from './ha-metrics.js';

export const SCOPE = 'demo';
const BASE = clusterBasePath('service', SCOPE);

export const PRIMARY_STATUS: NodeStatus = {
  state: 'running', role: 'primary', postmasterStartTime: '2023-08-18 11:03:37.966359+00:00', serverVersion: 160002,
  timeline: 3, walLocation: 67395656, receivedLocation: null, replayedLocation: null, replayedTimestamp: null,
  replayPaused: false, replicationState: null,
  replication: [{ usename: 'replicator', application_name: 'node2', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sync_priority: 0 }],
  sysid: '7268616322854375442', pendingRestart: false, pendingRestartReason: null,
};

export const REPLICA_STATUS: NodeStatus = {
  ...PRIMARY_STATUS, role: 'replica', walLocation: null, receivedLocation: 67395000, replayedLocation: 67394000,
  replayedTimestamp: '2023-08-18 11:05:00.5+00:00', replicationState: 'streaming', replication: [],
};

/** Raw writes into the memory store, as other members and operators would make them. */
export class SeededStore {
  readonly store = new MemoryStore();
  put(key: string, value: unknown): void {
    this.store.put(`${BASE}/${key}`, typeof value === 'string' ? value : JSON.stringify(value), null, null);
  }
  delete(key: string): void { this.store.delete(`${BASE}/${key}`); }
  member(name: string, data: Record<string, unknown>): void {
    this.put(`members/${name}`, { conn_url: `postgres://127.0.0.1:54${name.slice(-1)}2/postgres`, api_url: `http://127.0.0.1:80${name.slice(-1)}8/patroni`, state: 'running', ...data });
  }
  leader(name: string): void { this.put('leader', name); }
  status(optime: number): void { this.put('status', { optime }); }
  config(data: Record<string, unknown>): void { this.put('config', data); }
  get(key: string): string | undefined { return this.store.get(`${BASE}/${key}`)?.value; }
}

export class FakeBackend implements ApiBackend {
  readonly version = '4.0.2';
  readonly scope = SCOPE;
  readonly dcs: Dcs;
  tags = new Tags({});
  settings = { ttl: 30, loopWait: 10, paused: false, failsafeMode: false, synchronousMode: false };
  status: NodeStatus = PRIMARY_STATUS;
  leader = false;
  cycleStartedAt = performance.now();
  decision = { message: 'no action. I am (node1), the leader with the lock', reason: null as string | null };
  fence = { armed: true, watchdogFailed: false };
  scheduled: Record<string, unknown> | null = null;
  readonly metrics = new HaMetrics();
  possible = { ok: true, reason: '' };
  restartResult: [boolean, string] = [true, 'restarted successfully'];
  reinitResult: [boolean, string] = [true, ''];
  failsafeAnswer: string | number = 'Accepted';
  /** Calls the API made into the agent, in order, e.g. `wakeup`, `restart:{...}`. */
  readonly calls: string[] = [];
  onWakeup: (() => void) | null = null;

  constructor(readonly seeded: SeededStore, readonly name = 'node1') {
    const ctx = { name, scope: SCOPE, namespace: '/service', basePath: BASE, ttl: 30, loopWait: 10, retryTimeout: 2, ctl: false };
    this.dcs = new Dcs(new MemoryDriver(seeded.store, ctx), { ttl: 30, loopWait: 10, retryTimeout: 2 });
  }

  async nodeStatus(): Promise<NodeStatus> { return this.status; }
  isLeader(): boolean { return this.leader; }
  cachedCluster() { return this.dcs.cluster; }
  lastCycleStartedAt(): number { return this.cycleStartedAt; }
  lastDecision() { return this.decision; }
  fenceStatus() { return this.fence; }
  scheduledRestart() { return this.scheduled; }
  async failoverPossible(_c: unknown, candidate: string | null) {
    this.calls.push(`failoverPossible:${candidate}`);
    return this.possible;
  }
  failsafeActive(): boolean { return false; }
  updateFailsafe(data: Record<string, unknown>) {
    this.calls.push(`failsafe:${JSON.stringify(data)}`);
    return this.failsafeAnswer;
  }
  wakeup(): void {
    this.calls.push('wakeup');
    this.onWakeup?.();
  }
  async reloadConfig(): Promise<void> { this.calls.push('reload'); }
  async restart(req: RestartRequest): Promise<[boolean, string]> {
    this.calls.push(`restart:${JSON.stringify(req)}`);
    return this.restartResult;
  }
  scheduleRestart(req: RestartRequest): boolean {
    if (this.scheduled) return false;
    this.scheduled = { ...req, postmaster_start_time: 'x' };
    return true;
  }
  deleteScheduledRestart(): boolean {
    const had = !!this.scheduled;
    this.scheduled = null;
    return had;
  }
  async reinitialize(force: boolean): Promise<[boolean, string]> {
    this.calls.push(`reinitialize:${force}`);
    return this.reinitResult;
  }
}

/** A three-member cluster: node1 leads at LSN 67395656, node2 and node3 replicate. */
export async function threeNodeCluster(opts: { leader?: string; config?: Record<string, unknown> } = {}) {
  const seeded = new SeededStore();
  seeded.config(opts.config ?? { ttl: 30, loop_wait: 10 });
  seeded.member('node1', { role: 'primary', timeline: 3, xlog_location: 67395656, tags: { clonefrom: true } });
  seeded.member('node2', { role: 'replica', timeline: 3, replication_state: 'streaming', xlog_location: 67394000, receive_lsn: 67395000, replay_lsn: 67394000 });
  seeded.member('node3', { role: 'replica', state: 'running', timeline: 3 });
  seeded.leader(opts.leader ?? 'node1');
  seeded.status(67395656);
  seeded.put('initialize', '7268616322854375442');
  const backend = new FakeBackend(seeded);
  await backend.dcs.getCluster();
  return { seeded, backend };
}
