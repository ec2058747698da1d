/** etcd's request rate over a period, from its /metrics counters (every member, summed). */
import type { EtcdCluster } from '../../test/helpers/etcd.js';

export interface EtcdRates {
  /** Unary RPCs completed per second (grpc_server_handled_total). */
  readonly unaryPerS: number | null;
  /** gRPC messages received per second, stream messages (lease keep-alives, watches) included. */
  readonly msgsPerS: number | null;
  /** Messages received per second by gRPC method (Range, Put, Txn, LeaseKeepAlive, Watch, ...). */
  readonly byMethod: Record<string, number>;
}

interface Counters { at: number; handled: number; received: number; byMethod: Map<string, number> }

async function counters(etcd: EtcdCluster): Promise<Counters | null> {
  try {
    let handled = 0;
    let received = 0;
    const byMethod = new Map<string, number>();
    for (const m of etcd.members) {
      if (!m.proc) continue;
      const text = await (await fetch(`${m.clientUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      for (const line of text.split('\n')) {
        const v = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (line.startsWith('grpc_server_handled_total{')) handled += v;
        else if (line.startsWith('grpc_server_msg_received_total{')) {
          received += v;
          const method = /grpc_method="([^"]+)"/.exec(line)?.[1] ?? '?';
          byMethod.set(method, (byMethod.get(method) ?? 0) + v);
        }
      }
    }
    return { at: performance.now(), handled, received, byMethod };
  } catch {
    return null;
  }
}

export function etcdRates(etcd: EtcdCluster): { start(): Promise<Counters | null>; stop(from: Counters | null): Promise<EtcdRates> } {
  return {
    start: () => counters(etcd),
    async stop(c0) {
      const c1 = await counters(etcd);
      if (!c0 || !c1) return { unaryPerS: null, msgsPerS: null, byMethod: {} };
      const dt = (c1.at - c0.at) / 1000;
      const byMethod: Record<string, number> = {};
      for (const [m, v] of c1.byMethod) {
        const r = +((v - (c0.byMethod.get(m) ?? 0)) / dt).toFixed(2);
        if (r > 0) byMethod[m] = r;
      }
      return { unaryPerS: +((c1.handled - c0.handled) / dt).toFixed(1), msgsPerS: +((c1.received - c0.received) / dt).toFixed(1), byMethod };
    },
  };
}
