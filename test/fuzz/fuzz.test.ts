/**
 * The fuzz campaign (test/fuzz/campaign.ts) with a CI budget: 1,500 REST requests, every DCS key
 * with 3 adversarial values, 6 broken configurations. `npm run fuzz` runs the full budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Campaign, table, type PhaseStats } from './campaign.js';

const budget = { seed: Number(process.env.PGHA_FUZZ_SEED ?? 22), restRequests: 1500, valuesPerKey: 3, configs: 6, leaderKey: false, restBatch: 750, concurrency: 4 }; // leaderKey: npm run fuzz only
const campaign = new Campaign(budget);
const stats: PhaseStats[] = [];

describe('fuzz (CI budget) against 2 live agents', () => {
  beforeAll(() => campaign.start(), 180_000);
  afterAll(async () => {
    await campaign.stop();
    if (stats.length) process.stdout.write(`${table(stats, budget)}\n`);
  }, 120_000);

  it('REST: no 500, no unauthenticated write accepted, no unrequested action, cluster healthy', async () => {
    const s = await campaign.rest();
    stats.push(s);
    expect(s.problems).toEqual([]);
    expect(s.inputs).toBe(budget.restRequests);
  }, 300_000);

  it('DCS: adversarial values in every key end no agent and request nothing', async () => {
    const s = await campaign.dcs();
    stats.push(s);
    expect(s.problems).toEqual([]);
    expect(s.batches).toBe(budget.valuesPerKey);
  }, 300_000);

  it('configuration files: broken ones are refused on SIGHUP, validate-config agrees, the agent keeps running', async () => {
    const s = await campaign.configs();
    stats.push(s);
    expect(s.problems).toEqual([]);
    expect(s.inputs).toBe(budget.configs);
  }, 300_000);
});
