/**
 * `npm run chaos -- --faults N --mode on|quorum --dcs etcd3|raft --seed S [--minutes M] [--kinds k1,k2]`: the
 * seeded fault suite (test/chaos/suite.ts). Prints one line per fault and the per-kind table;
 * exits 1 when any check failed (the seed reproduces the same sequence of faults).
 */
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { formatChaos, runChaos, type ChaosOptions } from './suite.js';

function parse(argv: string[]): ChaosOptions {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, v] = a.includes('=') ? a.slice(2).split('=', 2) : [a.slice(2), argv[++i]];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    o[k!] = v;
  }
  for (const k of Object.keys(o)) if (!['faults', 'mode', 'dcs', 'seed', 'minutes', 'kinds'].includes(k)) throw new Error(`unknown option --${k}`);
  const num = (k: string, d: number) => {
    const n = o[k] === undefined ? d : Number(o[k]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a number, got ${o[k]}`);
    return n;
  };
  const mode = o.mode ?? 'on';
  const dcs = o.dcs ?? 'etcd3';
  if (mode !== 'on' && mode !== 'quorum') throw new Error(`--mode must be on or quorum, got ${mode}`);
  if (dcs !== 'etcd3' && dcs !== 'raft') throw new Error(`--dcs must be etcd3 or raft, got ${dcs}`);
  const kinds = o.kinds?.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of kinds ?? []) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`--kinds: unknown fault kind ${k} (kinds: ${FAULT_KINDS.join(', ')})`);
  if (kinds && !kinds.length) throw new Error('--kinds needs at least one fault kind');
  return {
    ...(kinds ? { kinds: kinds as FaultKind[] } : {}),
    faults: num('faults', o.minutes ? 1_000_000 : 20), mode, dcs, seed: num('seed', Date.now() % 1_000_000),
    ...(o.minutes ? { minutes: num('minutes', 0) } : {}),
  };
}

let options: ChaosOptions;
try {
  options = parse(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\nusage: npm run chaos -- --faults N --mode on|quorum --dcs etcd3|raft --seed S [--minutes M] [--kinds k1,k2]\n`);
  process.exit(2);
}
// A first signal finishes the running fault, stops the cluster and prints the table; a second exits.
let stopRequested = false;
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stdout.write(`chaos: received ${sig}, ${stopRequested ? 'exiting' : 'stopping after this fault'}\n`);
    if (stopRequested) process.exit(3);
    stopRequested = true;
  });
}
process.on('exit', (code) => process.stdout.write(`chaos: exit ${code}\n`));
const stamp = () => new Date().toISOString().slice(11, 19);
process.stdout.write(`chaos: seed ${options.seed}, mode ${options.mode}, dcs ${options.dcs}, ${options.minutes ? `${options.minutes} min` : `${options.faults} faults`}\n`);
const result = await runChaos({ ...options, shouldStop: () => stopRequested, log: (l) => process.stdout.write(`${stamp()} ${l}\n`) });
process.stdout.write(`${formatChaos(result)}\n`);
process.exit(result.failures.length ? 1 : 0);
