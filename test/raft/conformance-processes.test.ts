/**
 * The DCS conformance kit against three Raft members in three separate processes (the raft-node
 * entry point), drivers talking to them over TCP; then a member process is killed, the other two
 * keep serving, and the restarted member catches up.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDcsConformance } from '../../core/src/testing/conformance.js';
import type { RaftConfig } from '../../plugins/dcs-raft/src/config.js';
import { RaftDriver } from '../../plugins/dcs-raft/src/driver.js';
import { RemoteKv } from '../../plugins/dcs-raft/src/net/remote-kv.js';
import { startProc, stopAll, waitFor, type Proc } from '../helpers/procs.js';
import { memberIndex, raftConfigs, type TestCluster } from './cluster.js';

const ROOT = join(import.meta.dirname, '../..');
const NODE_BIN = join(ROOT, 'plugins/dcs-raft/dist/bin/raft-node.js');
const PASSWORD = 'processes-secret';
let cluster: TestCluster;
const procs: (Proc | null)[] = [];
const clients: RemoteKv[] = [];

async function startNode(c: RaftConfig): Promise<Proc> {
  const p = startProc(process.execPath, [NODE_BIN, '--self-addr', c.self_addr!, '--partner-addrs', c.partner_addrs.join(','),
    '--data-dir', c.data_dir!, '--password', PASSWORD, '--election-timeout-ms', '300', '--snapshot-every', '50']);
  await waitFor(() => p.output().includes('ready') || p.child.exitCode !== null, 15_000, `raft-node ${c.self_addr}`);
  if (p.child.exitCode !== null) throw new Error(`raft-node exited: ${p.output()}`);
  return p;
}

/** A client pinned to member i first (falls over to the others only if it is unreachable). */
function clientOf(i: number): RemoteKv {
  const addrs = [...cluster.addrs.slice(i), ...cluster.addrs.slice(0, i)];
  const kv = new RemoteKv(addrs, PASSWORD);
  clients.push(kv);
  return kv;
}

beforeAll(async () => {
  // The entry point runs compiled: make sure dist matches the sources under test (only this
  // project: -p uses core's built declarations rather than rebuilding core).
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'plugins/dcs-raft/tsconfig.json')], { stdio: 'pipe' });
  cluster = await raftConfigs(3);
  for (const c of cluster.configs) procs.push(await startNode(c));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopAll();
  cluster?.removeDirs();
});

runDcsConformance('raft (3 member processes)', () => ({
  ttl: 2,
  create: async (ctx) => new RaftDriver(ctx.ctl ? new RemoteKv(cluster.addrs, PASSWORD) : new RemoteKv(rotate(memberIndex(ctx.name, 3)), PASSWORD), ctx),
  putRaw: async (ctx, key, value) => {
    const kv = clientOf(0);
    await kv.submit({ op: 'set', key: `${ctx.basePath}/${key}`, value, ttlMs: null }, 5000);
  },
}));

function rotate(i: number): string[] {
  return [...cluster.addrs.slice(i), ...cluster.addrs.slice(0, i)];
}

describe('raft member processes', () => {
  it('survive the loss of one member, which catches up after a restart', async () => {
    const victim = 0;
    await procs[victim]!.stop();
    procs[victim] = null;
    const survivor = clientOf(1);
    for (let i = 0; i < 120; i++) {
      expect((await survivor.submit({ op: 'set', key: `/proc/k${i}`, value: String(i), ttlMs: null }, 5000)).ok).toBe(true);
    }
    procs[victim] = await startNode(cluster.configs[victim]!);
    // Only the restarted member answers this client: its linearizable read must see every write.
    const restarted = new RemoteKv([cluster.addrs[victim]!], PASSWORD);
    clients.push(restarted);
    const keys = await waitFor(async () => {
      const l = await restarted.list('/proc/', 3000);
      return l.length === 120 ? l : null;
    }, 20_000, 'restarted member to catch up');
    expect(keys.find((e) => e.key === '/proc/k119')?.value).toBe('119');
  });
});
