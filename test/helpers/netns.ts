/**
 * Real network partitions between nodes, in network namespaces this test creates and deletes (root
 * only; nothing touches the host's own network).
 *
 * A hub namespace holds the DCS (on 10.77.0.1) and the process that runs the test; each node has its
 * own namespace, joined to the hub by a veth pair (node i is 10.77.i.2, the hub's side 10.77.i.1)
 * and routed through it, so every packet between two nodes, or between a node and the DCS, crosses
 * the hub. A partition is a pair of `blackhole` policy rules in the hub: packets are dropped
 * silently, in both directions, as on a real network (no reset, no ICMP), while everything else
 * still flows. Healing deletes the rules; connections that survived resume.
 */
import { execFileSync } from 'node:child_process';

const IP = '/usr/sbin/ip';
const HUB_ADDR = '10.77.0.1';
/** Lower than the hub's `lookup local` rule (moved to 1000), so DCS traffic can be cut too. */
const CUT_PREF = '100';

function ip(args: string[]): string {
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface NodeNetworks {
  readonly hub: string;
  /** The DCS's address, in the hub. */
  readonly hubAddr: string;
  /** The namespace of node `i` (1-based). */
  ns(i: number): string;
  /** The address of node `i` (1-based). */
  addr(i: number): string;
  /** The subnet every node address is in (for pg_hba). */
  readonly subnet: string;
  /** Cut node `i` off from the other nodes (both ways); it still reaches the DCS. */
  cutPeers(i: number): void;
  /** Cut node `i` off from the DCS (both ways); it still reaches the other nodes. */
  cutDcs(i: number): void;
  /** Undo every cut of node `i`. */
  heal(i: number): void;
  destroy(): void;
}

/** Node `nodeN`'s number, as the namespaces and addresses count it (1-based). */
export const nodeIndex = (name: string): number => Number(name.replace(/^node/, ''));

/** The namespaces of a run started by `createNodeNetworks` (passed to the process it runs in the hub). */
export const NETNS_ENV = 'PGHA_TEST_NETNS';

/** Whether this machine can create network namespaces (root and `ip`), and why not. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as .ci/run does)';
  try {
    ip(['-V']);
  } catch {
    return `${IP} is missing: apt-get install iproute2`;
  }
  return null;
}

function rules(hub: string, from: string, to: string, op: 'add' | 'del'): void {
  for (const [a, b] of [[from, to], [to, from]] as const) {
    try {
      ip(['-n', hub, 'rule', op, 'pref', CUT_PREF, 'from', a, 'to', b, 'blackhole']);
    } catch (e) {
      // Deleting a rule that is not there (a heal without a cut) is fine; failing to add is not.
      if (op === 'add') throw e;
    }
  }
}

/** The networks of a run, from its name prefix (the process in the hub rebuilds its handle this way). */
export function nodeNetworks(prefix: string, nodes: number): NodeNetworks {
  const hub = `${prefix}h`;
  const ns = (i: number) => `${prefix}n${i}`;
  const addr = (i: number) => `10.77.${i}.2`;
  const peers = (i: number) => Array.from({ length: nodes }, (_, j) => j + 1).filter((j) => j !== i);
  return {
    hub, hubAddr: HUB_ADDR, ns, addr, subnet: '10.77.0.0/16',
    cutPeers: (i) => { for (const j of peers(i)) rules(hub, addr(i), addr(j), 'add'); },
    cutDcs: (i) => rules(hub, addr(i), HUB_ADDR, 'add'),
    heal: (i) => {
      for (const j of peers(i)) rules(hub, addr(i), addr(j), 'del');
      rules(hub, addr(i), HUB_ADDR, 'del');
    },
    destroy: () => {
      for (const n of [hub, ...Array.from({ length: nodes }, (_, j) => ns(j + 1))]) {
        try { ip(['netns', 'del', n]); } catch { /* not created */ }
      }
    },
  };
}

/** Create the hub and `nodes` node namespaces; names start with `prefix` (short: veth names are per namespace). */
export function createNodeNetworks(prefix: string, nodes: number): NodeNetworks {
  const why = netnsUnavailable();
  if (why) throw new Error(why);
  const net = nodeNetworks(prefix, nodes);
  const { hub } = net;
  try {
    ip(['netns', 'add', hub]);
    ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    ip(['-n', hub, 'addr', 'add', `${HUB_ADDR}/32`, 'dev', 'lo']);
    // The hub forwards between nodes; traffic to its own addresses must pass the cut rules first.
    execFileSync(IP, ['netns', 'exec', hub, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    ip(['-n', hub, 'rule', 'add', 'pref', '1000', 'lookup', 'local']);
    ip(['-n', hub, 'rule', 'del', 'pref', '0']);
    for (let i = 1; i <= nodes; i++) {
      const ns = net.ns(i);
      ip(['netns', 'add', ns]);
      ip(['link', 'add', `vh${i}`, 'netns', hub, 'type', 'veth', 'peer', 'name', 'vn', 'netns', ns]);
      ip(['-n', hub, 'addr', 'add', `10.77.${i}.1/24`, 'dev', `vh${i}`]);
      ip(['-n', hub, 'link', 'set', `vh${i}`, 'up']);
      ip(['-n', ns, 'addr', 'add', `${net.addr(i)}/24`, 'dev', 'vn']);
      ip(['-n', ns, 'link', 'set', 'vn', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', `10.77.${i}.1`]);
    }
  } catch (e) {
    net.destroy();
    throw e;
  }
  return net;
}

/** The command prefix that runs a program in namespace `ns` (as root: `ip netns exec`). */
export function inNamespace(ns: string): string[] {
  return [IP, 'netns', 'exec', ns];
}
