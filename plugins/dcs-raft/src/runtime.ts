/**
 * A Raft member running for real: KvMember on the system clock, FileStorage in data_dir, TCP for
 * peers and clients, ticking on a timer. Used by the DCS driver, `pgha raft-witness` and the
 * raft-node entry point.
 */
import { resolve } from 'node:path';
import { KvMember } from './kv/member.js';
import type { RaftConfig } from './config.js';
import { FileStorage } from './raft/file-storage.js';
import { serveKvClient } from './net/kv-server.js';
import { TcpEndpoint } from './net/tcp-endpoint.js';

export interface RaftMemberHandle {
  readonly member: KvMember;
  readonly selfAddr: string;
  close(): Promise<void>;
}

const TICK_MS = 10;

/** The voting members: self_addr and partner_addrs (static membership). */
export function membersOf(config: RaftConfig): string[] {
  return [...new Set([config.self_addr!, ...config.partner_addrs])].sort();
}

export async function startRaftMember(config: RaftConfig, log: (msg: string) => void = () => {}): Promise<RaftMemberHandle> {
  if (!config.self_addr) throw new Error('raft.self_addr is required to run a raft member');
  const selfAddr = config.self_addr;
  const storage = new FileStorage(resolve(config.data_dir ?? '.'));
  let member: KvMember | null = null;
  const endpoint = new TcpEndpoint({
    selfId: selfAddr,
    bindAddr: config.bind_addr ?? selfAddr,
    password: config.password ?? '',
    onPeerMessage: (m) => member?.receive(m),
    onClient: (c) => { if (member) serveKvClient(c, member); else c.close(); },
    log,
  });
  member = new KvMember({
    id: selfAddr,
    members: membersOf(config),
    storage,
    transport: endpoint,
    now: () => performance.now(),
    random: Math.random,
    electionTimeoutMs: config.election_timeout_ms ?? 1000,
    heartbeatMs: config.heartbeat_ms ?? 100,
    snapshotEvery: config.snapshot_every ?? 1000,
  });
  try {
    await endpoint.listen();
  } catch (e) {
    await member.close();
    throw e;
  }
  const m = member;
  const timer = setInterval(() => m.tick(), TICK_MS);
  return {
    member: m,
    selfAddr,
    async close() {
      clearInterval(timer);
      await endpoint.close();
      await m.close();
    },
  };
}
