/**
 * Helpers for real-TCP Raft tests: temp data dirs, configs on free 127.0.0.1 ports, and drivers
 * bound to a given member for the conformance kit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RaftConfig } from '../../plugins/dcs-raft/src/config.js';
import { freePorts } from '../helpers/ports.js';

/** Fast timings so elections and TTL tests finish quickly on loopback. */
export const FAST = { election_timeout_ms: 300, heartbeat_ms: 50 } as const;

export interface TestCluster {
  readonly configs: RaftConfig[];
  readonly addrs: string[];
  readonly dirs: string[];
  removeDirs(): void;
}

export async function raftConfigs(n: number, extra: Partial<RaftConfig> = {}): Promise<TestCluster> {
  const ports = await freePorts(n);
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const dirs = addrs.map(() => mkdtempSync(join(tmpdir(), 'pgha-raft-')));
  const configs = addrs.map((self, i) => ({
    self_addr: self, partner_addrs: addrs.filter((a) => a !== self), data_dir: dirs[i]!, ...FAST, ...extra,
  }) as RaftConfig);
  return { configs, addrs, dirs, removeDirs: () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); } };
}

/** `node2` -> 1: the conformance kit names members node1..nodeN. */
export function memberIndex(name: string, n: number): number {
  const m = /(\d+)$/.exec(name);
  return m ? (Number(m[1]) - 1) % n : 0;
}
