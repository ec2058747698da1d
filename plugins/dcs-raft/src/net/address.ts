/** `host:port` (Patroni's raft addresses; IPv6 as `[::1]:2222`). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr.trim());
  if (!m || !m[1]) throw new Error(`invalid raft address '${addr}' (expected host:port)`);
  return { host: m[1], port: Number(m[2]) };
}
