/**
 * Bench options from the command line, each with an environment fallback:
 *   --loop-wait 2,10   BENCH_LOOP_WAIT   one cluster per value (default 2)
 *   --ttl 20           BENCH_TTL
 *   --retry-timeout N  BENCH_RETRY_TIMEOUT  default: Patroni's rule loop_wait + 2*retry_timeout <= ttl,
 *                                           i.e. min(10, floor((ttl - loop_wait) / 2))
 *   --runs 3           BENCH_RUNS
 *   --scenarios a,b    BENCH_SCENARIOS   default: all (see SCENARIO_NAMES)
 *   --idle 30          BENCH_IDLE_SECONDS  idle period for CPU and DCS request rate (0 skips it)
 *   --hold 5           BENCH_HOLD_SECONDS  how long a killed agent stays down after a new primary took writes
 *   --settle 120       BENCH_SETTLE_SECONDS  bound on the wait for the cluster to settle after a disruption
 */
import { parseArgs } from 'node:util';

export const SCENARIO_NAMES = ['switchover', 'sigterm', 'crash', 'agent-kill', 'tree-kill', 'freeze'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  readonly loopWaits: number[];
  readonly ttl: number;
  readonly retryTimeout: (loopWait: number) => number;
  readonly runs: number;
  readonly scenarios: ScenarioName[];
  readonly idleSeconds: number;
  readonly holdSeconds: number;
  readonly settleSeconds: number;
}

function ints(what: string, v: string): number[] {
  const out = v.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (!out.length || out.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${what}: expected non-negative integers, got '${v}'`);
  return out;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      'loop-wait': { type: 'string' }, ttl: { type: 'string' }, 'retry-timeout': { type: 'string' },
      runs: { type: 'string' }, scenarios: { type: 'string' }, idle: { type: 'string' }, hold: { type: 'string' }, settle: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('npm run bench:failover -- [--loop-wait 2,10] [--ttl 20] [--retry-timeout N] [--runs 3] '
      + `[--scenarios ${SCENARIO_NAMES.join(',')}] [--idle 30] [--hold 5] [--settle 120]`);
    process.exit(0);
  }
  const pick = (flag: string | undefined, name: string, dflt: string) => flag ?? env[name] ?? dflt;
  const loopWaits = ints('--loop-wait', pick(values['loop-wait'], 'BENCH_LOOP_WAIT', '2'));
  const [ttl] = ints('--ttl', pick(values.ttl, 'BENCH_TTL', '20'));
  const rtRaw = values['retry-timeout'] ?? env.BENCH_RETRY_TIMEOUT;
  const rtFixed = rtRaw === undefined ? null : ints('--retry-timeout', rtRaw)[0]!;
  const [runs] = ints('--runs', pick(values.runs, 'BENCH_RUNS', '3'));
  const [idleSeconds] = ints('--idle', pick(values.idle, 'BENCH_IDLE_SECONDS', '30'));
  const [holdSeconds] = ints('--hold', pick(values.hold, 'BENCH_HOLD_SECONDS', '5'));
  const [settleSeconds] = ints('--settle', pick(values.settle, 'BENCH_SETTLE_SECONDS', '120'));
  const scen = pick(values.scenarios, 'BENCH_SCENARIOS', SCENARIO_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scen.filter((s) => !(SCENARIO_NAMES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`--scenarios: unknown ${unknown.join(', ')} (known: ${SCENARIO_NAMES.join(', ')})`);
  for (const lw of loopWaits) {
    const rt = rtFixed ?? Math.min(10, Math.floor((ttl! - lw) / 2));
    if (lw < 1 || rt < 1 || lw + 2 * rt > ttl!) throw new Error(`--loop-wait ${lw} with ttl ${ttl} and retry_timeout ${rt} breaks loop_wait + 2*retry_timeout <= ttl`);
  }
  return {
    loopWaits, ttl: ttl!, runs: runs!, idleSeconds: idleSeconds!, holdSeconds: holdSeconds!, settleSeconds: settleSeconds!,
    retryTimeout: (lw) => rtFixed ?? Math.min(10, Math.floor((ttl! - lw) / 2)),
    scenarios: scen as ScenarioName[],
  };
}
