/** Plain-text tables: per loop_wait, per scenario, min / median / max over runs; then idle costs. */
import type { IdleReport } from './idle.js';
import { SCENARIOS, type RunResult } from './scenarios.js';
import type { ScenarioName } from './options.js';

function stats(xs: Array<number | null>, digits: number): string {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (!v.length) return 'n/a';
  const mid = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  const f = (x: number) => x.toFixed(digits);
  const missing = xs.length - v.length;
  return `${f(v[0]!)} / ${f(mid)} / ${f(v.at(-1)!)}${missing ? ` (${missing} n/a)` : ''}`;
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [line(header), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

export function scenarioTable(results: RunResult[], order: ScenarioName[]): string {
  const rows = order.filter((s) => results.some((r) => r.scenario === s)).map((s) => {
    const rs = results.filter((r) => r.scenario === s);
    return [
      SCENARIOS[s].label, `${rs.filter((r) => r.ok).length}/${rs.length}`,
      stats(rs.map((r) => r.gapS), 2), stats(rs.map((r) => r.failoverS), 1), stats(rs.map((r) => r.dualWindows), 0), stats(rs.map((r) => r.dualS), 1),
      stats(rs.map((r) => r.lost), 0), stats(rs.map((r) => r.acked), 0),
    ];
  });
  return table(['scenario', 'settled', 'longest write gap s', 'new primary writes after s', '2-primary windows', '2-primary s', 'lost acked writes', 'acked writes'], rows)
    + '\n(min / median / max over runs; a 2-primary window = a 100 ms window in which two nodes acknowledged a probe write;'
    + '\n "new primary writes after" = from the disruption to the new leader\'s first acknowledged probe write)'
    + results.filter((r) => !r.ok).map((r) => `\n${r.scenario} run ${r.run}: ${r.notes.find((n) => /not settled|failed|did not start/.test(n)) ?? r.notes.join('; ')}`).join('');
}

export function idleTable(idle: IdleReport): string {
  const rows = idle.nodes.map((n) => [
    n.node, n.role, n.agentRssMb === null ? 'n/a' : n.agentRssMb.toFixed(1),
    n.helpers.length ? n.helpers.map((h) => `${h.name}[${h.pid}] ${h.rssMb === null ? 'n/a' : h.rssMb.toFixed(1)}`).join(', ') : '-',
    n.agentCpuPct === null ? 'n/a' : n.agentCpuPct.toFixed(2), n.helpersCpuPct === null ? '-' : n.helpersCpuPct.toFixed(2),
  ]);
  return table(['node', 'role', 'agent RSS MB', 'helpers RSS MB (PostgreSQL excluded)', `agent CPU % (${idle.seconds} s idle)`, 'helpers CPU %'], rows)
    + `\nDCS (etcd) at idle: ${idle.dcsUnaryPerS ?? 'n/a'} unary RPCs/s (grpc_server_handled_total), `
    + `${idle.dcsMsgsPerS ?? 'n/a'} gRPC messages received/s incl. keep-alive and watch streams (grpc_server_msg_received_total)`
    + `\n  by method (messages/s): ${Object.entries(idle.dcsByMethod).map(([m, v]) => `${m} ${v}`).join(', ') || 'n/a'}`;
}

export function runLine(r: RunResult): string {
  return JSON.stringify({ ...r, gapS: r.gapS === null ? null : +r.gapS.toFixed(3), dualS: +r.dualS.toFixed(1) });
}
