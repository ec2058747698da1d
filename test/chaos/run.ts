/**
 * `npm run chaos -- --faults N --mode on|quorum --dcs etcd3|raft --seed S [--minutes M] [--kinds k1,k2] [--netns]`:
 * the seeded fault suite (test/chaos/suite.ts). Prints one line per fault and the per-kind table;
 * exits 1 when any check failed (the seed reproduces the same sequence of faults).
 *
 * `--netns` (root): each node runs in its own network namespace and this suite in a hub namespace
 * (test/helpers/netns.ts), which adds the `peer-partition` fault. This process creates the
 * namespaces, runs itself again inside the hub, and deletes them when that run ends.
 */
import { spawn } from 'node:child_process';
import { createNodeNetworks, inNamespace, NETNS_ENV, nodeNetworks } from '../helpers/netns.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { formatChaos, runChaos, type ChaosOptions } from './suite.js';

const USAGE = 'usage: npm run chaos -- --faults N --mode on|quorum --dcs etcd3|raft --seed S [--minutes M] [--kinds k1,k2] [--netns]';

function parse(argv: string[]): ChaosOptions & { netns: boolean } {
  const o: Record<string, string> = {};
  let netns = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--netns') { netns = true; continue; }
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
    netns,
    ...(kinds ? { kinds: kinds as FaultKind[] } : {}),
    faults: num('faults', o.minutes ? 1_000_000 : 20), mode, dcs, seed: num('seed', Date.now() % 1_000_000),
    ...(o.minutes ? { minutes: num('minutes', 0) } : {}),
  };
}

let parsed: ReturnType<typeof parse>;
try {
  parsed = parse(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
  process.exit(2);
}
const { netns, ...options } = parsed;
const hubOf = process.env[NETNS_ENV];
if (netns && !hubOf) {
  // Outside the hub: create the namespaces, run this same command inside the hub, clean up.
  const prefix = `pgha${process.pid}`;
  let net;
  try {
    net = createNodeNetworks(prefix, 3);
  } catch (e) {
    process.stderr.write(`--netns: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  const child = spawn(inNamespace(net.hub)[0]!, [...inNamespace(net.hub).slice(1), process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: prefix } });
  // A terminal's Ctrl-C reaches the child already (same process group); other signals are passed on.
  process.on('SIGINT', () => undefined);
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  const code = await new Promise<number>((r) => child.once('exit', (c, s) => r(c ?? (s ? 3 : 1))));
  net.destroy();
  process.exit(code);
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
const net = netns && hubOf ? nodeNetworks(hubOf, 3) : undefined;
const result = await runChaos({ ...options, ...(net ? { net } : {}), shouldStop: () => stopRequested, log: (l) => process.stdout.write(`${stamp()} ${l}\n`) });
process.stdout.write(`${formatChaos(result)}\n`);
process.exit(result.failures.length ? 1 : 0);
