/**
 * `npm run fuzz`: the full campaign with the default budget (20,000 REST requests, every DCS key
 * with every adversarial value, the leader lock, 50 broken configurations). Options:
 * `--seed N`, `--rest N`, `--values N`, `--configs N`, `--leader-key off`. Exits 1 when the oracle found a problem.
 */
import { parseArgs } from 'node:util';
import { Campaign, table, type Budget, type PhaseStats } from './campaign.js';

const { values } = parseArgs({ options: { seed: { type: 'string' }, rest: { type: 'string' }, values: { type: 'string' }, configs: { type: 'string' }, 'leader-key': { type: 'string' } } });
const budget: Budget = {
  seed: Number(values.seed ?? process.env.PGHA_FUZZ_SEED ?? 22),
  restRequests: Number(values.rest ?? 20_000),
  valuesPerKey: Number(values.values ?? 30),
  configs: Number(values.configs ?? 50),
  leaderKey: values['leader-key'] !== 'off',
};
const campaign = new Campaign(budget, (l) => process.stdout.write(`${new Date().toISOString()} ${l}\n`));
const stats: PhaseStats[] = [];
let code = 0;
// Ctrl-C / SIGTERM: stop the agents, PostgreSQL and etcd this run started before exiting.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stdout.write(`${sig}: stopping the cluster\n`);
    void campaign.stop().finally(() => process.exit(130));
  });
}
try {
  await campaign.start();
  stats.push(await campaign.rest());
  stats.push(await campaign.dcs());
  stats.push(await campaign.configs());
  if (budget.leaderKey) stats.push(await campaign.leaderLock());
} catch (e) {
  process.stdout.write(`campaign aborted: ${e instanceof Error ? e.stack : String(e)}\n`);
  code = 1;
} finally {
  await campaign.stop();
}
for (const s of stats) for (const p of s.problems.slice(0, 50)) process.stdout.write(`PROBLEM [${s.phase}] ${p}\n`);
process.stdout.write(`\n${table(stats, budget)}\n`);
if (stats.some((s) => s.problems.length)) code = 1;
process.exit(code);
