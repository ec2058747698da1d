/**
 * The dashboard in a real browser (headless Debian Chromium) against a live 3-node cluster: 3 agents
 * (`pgha run`, as the unprivileged user) with PostgreSQL 15 on etcd, REST API with credentials.
 * One cluster and one browser for the whole file; the scenarios run in order.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { launchChromium, screenshot, type Browser } from './browser.js';

const ADMIN = { username: 'admin', password: 'admin-secret' };
const HOSTILE_TAG = '<img src=x onerror="window.__xss=1">';
let cluster: TestCluster;
let browser: Browser;
let page: Page;
let server: TestNode;

/** Member name -> role as the page shows it, in the table and in the topology. */
async function shownRoles(): Promise<{ table: Record<string, string>; topology: Record<string, string> }> {
  return page.evaluate(() => {
    const read = (sel: string) => Object.fromEntries([...document.querySelectorAll<HTMLElement>(sel)].map((e) => [e.dataset.member!, e.dataset.role!]));
    return { table: read('#members tbody tr[data-member]'), topology: read('#topology .node[data-member]') };
  });
}

async function signIn(password = ADMIN.password): Promise<void> {
  await page.locator('#signin').waitFor({ state: 'visible' });
  await page.fill('#signin-user', ADMIN.username);
  await page.fill('#signin-password', password);
  await page.click('#signin-ok');
}

/** Confirm the open dialog; resolves with the toast the action's result raised. */
async function confirmAndReadToast(): Promise<string> {
  await page.evaluate(() => document.getElementById('toasts')!.replaceChildren());
  await page.click('#confirm-ok');
  return lastToast();
}

async function lastToast(): Promise<string> {
  const toast = page.locator('#toasts .toast').last();
  await toast.waitFor({ state: 'visible', timeout: 60_000 });
  return (await toast.textContent()) ?? '';
}

describe('web dashboard in Chromium (etcd, PostgreSQL 15, 3 agents)', () => {
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: [{}, {}, { tags: { note: HOSTILE_TAG } }], restapiAuth: ADMIN });
    browser = await launchChromium();
    const leader = await cluster.waitHealthy(2);
    await waitFor(async () => (await leader.get('/cluster')).body.members.filter((m: { state: string }) => m.state === 'streaming').length === 2,
      30_000, 'both replicas published as streaming');
    // A replica serves the page: what it shows about the others comes from the DCS and their APIs.
    server = cluster.nodes.find((n) => n !== leader)!;
    page = await browser.newPage();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  }, 120_000);

  it('shows the primary and both replicas, streaming, with the data of every member and no injected markup', async () => {
    const leader = await cluster.waitHealthy(2);
    const replicas = cluster.nodes.filter((n) => n !== leader).map((n) => n.name).sort();
    await page.goto(`${server.apiUrl}/dashboard`);
    expect(page.url()).toBe(`${server.apiUrl}/dashboard/`);
    await expect.poll(() => page.textContent('#primary-name'), { timeout: 20_000 }).toBe(leader.name);
    await expect.poll(() => page.textContent('#pills'), { timeout: 20_000 }).toContain('2/2 replicas streaming');
    const { table, topology } = await shownRoles();
    const expected = Object.fromEntries([[leader.name, 'leader'], ...replicas.map((r) => [r, 'replica'])]);
    expect(table).toEqual(expected);
    expect(topology).toEqual(expected);
    // The replicas hang under the primary in the topology.
    const underLeader = await page.$$eval(`#topology li:has(> .node[data-member="${leader.name}"]) > ul > li > .node`, (els) => els.map((e) => (e as HTMLElement).dataset.member).sort());
    expect(underLeader).toEqual(replicas);
    for (const r of replicas) {
      const row = page.locator(`#members tr[data-member="${r}"]`);
      await expect.poll(() => row.locator('td.state').textContent()).toContain('streaming');
      expect(await row.locator('td.lag').textContent()).toMatch(/^\d+(\.\d)? (B|kB|MB)$/);
      // The last decision of every member, fetched from its own API.
      expect(await row.locator('td.decision').textContent()).toMatch(/following a leader|no action/i);
    }
    // A tag full of markup is shown as text and runs nothing (the page also forbids inline script by CSP).
    const node3 = page.locator('#members tr[data-member="node3"]');
    expect(await node3.textContent()).toContain(HOSTILE_TAG);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('#members img').count()).toBe(0);
    expect(browser.errors).toEqual([]);
  }, 60_000);

  it('refuses an action with wrong credentials, then reloads a member through the page', async () => {
    const target = cluster.nodes.find((n) => n !== server)!;
    await page.click(`#members tr[data-member="${target.name}"] button[data-action="reload"]`);
    await signIn('wrong-password');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    await page.click('#confirm-ok');
    await expect.poll(() => page.textContent('#confirm-error'), { timeout: 20_000 }).toContain('Not authenticated');
    // The refused request is the only thing the browser complains about.
    expect(browser.errors).toEqual(['Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    browser.errors.splice(0);
    await page.click('#confirm-cancel');
    // Right credentials: the page's agent forwards the reload to the member's own API.
    await page.click(`#members tr[data-member="${target.name}"] button[data-action="reload"]`);
    await signIn();
    await page.locator('#confirm').waitFor({ state: 'visible' });
    expect(await page.textContent('#confirm-text')).toContain(`Reload ${target.name}'s configuration`);
    expect(await confirmAndReadToast()).toBe('reload scheduled');
  }, 60_000);

  it("restarts PostgreSQL of the node serving the page, from the page", async () => {
    const before = (await server.get('/patroni')).body.postmaster_start_time;
    await page.click(`#members tr[data-member="${server.name}"] button[data-action="restart"]`);
    await page.locator('#confirm').waitFor({ state: 'visible' });
    expect(await confirmAndReadToast()).toBe('restarted successfully');
    const after = await waitFor(async () => {
      const b = (await server.get('/patroni')).body;
      return b.state === 'running' && b.postmaster_start_time !== before ? b.postmaster_start_time : null;
    }, 30_000, `${server.name} to run with a new postmaster`);
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    await cluster.waitHealthy(2);
  }, 90_000);

  it('reinitializes a replica from the page: it is cloned again and streams', async () => {
    const leader = await cluster.waitHealthy(2);
    const target = cluster.nodes.find((n) => n !== leader && n !== server)!;
    const before = (await target.get('/patroni')).body.postmaster_start_time;
    // A file only the old data directory has: a real reinitialize wipes it.
    const marker = join(target.dataDir, 'dashboard-reinit-marker');
    writeFileSync(marker, 'old data directory');
    await page.click(`#members tr[data-member="${target.name}"] button[data-action="reinitialize"]`);
    await page.locator('#confirm').waitFor({ state: 'visible' });
    expect(await page.textContent('#confirm-text')).toContain(`Wipe ${target.name}'s data directory and clone it again from ${leader.name}`);
    expect(await page.locator('#reinit-force').isChecked()).toBe(false);
    expect(await confirmAndReadToast()).toBe('reinitialize started');
    await waitFor(async () => {
      const b = (await target.get('/patroni')).body;
      return b.state === 'running' && b.replication_state === 'streaming' && b.postmaster_start_time !== before;
    }, 60_000, `${target.name} to stream again after the reinitialize`);
    expect(existsSync(marker)).toBe(false);
    // The leader's reinitialize button is disabled: a primary can't be cloned from itself.
    expect(await page.locator(`#members tr[data-member="${leader.name}"] button[data-action="reinitialize"]`).isDisabled()).toBe(true);
    await cluster.waitHealthy(2);
  }, 90_000);

  it('pauses and resumes the cluster from the page', async () => {
    await page.click('#btn-pause');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    await page.click('#confirm-ok');
    await page.locator('#paused-pill').waitFor({ state: 'visible', timeout: 20_000 });
    expect((await server.get('/config')).body.pause).toBe(true);
    expect(await page.textContent('#btn-pause')).toBe('Resume');
    await page.click('#btn-pause');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    await page.click('#confirm-ok');
    await page.locator('#paused-pill').waitFor({ state: 'detached', timeout: 20_000 });
    expect((await server.get('/config')).body.pause).toBeUndefined();
  }, 60_000);

  it('switches over to the chosen replica from the page and shows the new primary without a reload', async () => {
    const leader = await cluster.waitHealthy(2);
    const candidate = cluster.nodes.find((n) => n !== leader && n !== server) ?? cluster.nodes.find((n) => n !== leader)!;
    await page.evaluate(() => { (window as { __sameDocument?: number }).__sameDocument = 42; });
    await page.click('#btn-switchover');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    const options = await page.$$eval('#switchover-candidate option', (els) => els.map((e) => (e as HTMLOptionElement).value).sort());
    expect(options).toEqual(cluster.nodes.filter((n) => n !== leader).map((n) => n.name).sort());
    await page.selectOption('#switchover-candidate', candidate.name);
    expect(await confirmAndReadToast()).toBe(`Successfully switched over to "${candidate.name}"`);
    await expect.poll(() => page.textContent('#primary-name'), { timeout: 30_000 }).toBe(candidate.name);
    expect((await cluster.waitHealthy(2)).name).toBe(candidate.name);
    await expect.poll(async () => (await shownRoles()).table[candidate.name], { timeout: 30_000 }).toBe('leader');
    await expect.poll(async () => (await shownRoles()).table[leader.name], { timeout: 60_000 }).toBe('replica');
    await expect.poll(() => page.textContent('#pills'), { timeout: 60_000 }).toContain('2/2 replicas streaming');
    // The same document all along: no navigation happened.
    expect(await page.evaluate(() => (window as { __sameDocument?: number }).__sameDocument)).toBe(42);
    // The switchover is in the timeline history, naming the new primary.
    await expect.poll(() => page.textContent('#history tbody tr:first-child'), { timeout: 30_000 }).toContain(candidate.name);
    // Some writes, so the lag chart has something to show, then the screenshot.
    await candidate.sql('CREATE TABLE IF NOT EXISTS dash_load AS SELECT g, md5(g::text) AS v FROM generate_series(1, 200000) g');
    await page.locator('#lag-chart .uplot').waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForTimeout(2500);
    const shot = await screenshot(page, 'dashboard-after-switchover.png');
    expect(shot).toMatch(/\.png$/);
    expect(browser.errors).toEqual([]);
  }, 150_000);

  it("exports Patroni's metrics and pgha's loop and DCS latency from a live agent", async () => {
    const leader = await cluster.waitHealthy(2);
    const text = await (await fetch(`${leader.apiUrl}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    const labels = `scope="${cluster.scope}",name="${leader.name}"`;
    expect(value(new RegExp(`^patroni_primary\\{${labels}\\} (\\d+)$`, 'm'))).toBe(1);
    expect(value(new RegExp(`^patroni_postgres_running\\{${labels}\\} (\\d+)$`, 'm'))).toBe(1);
    expect(value(new RegExp(`^patroni_postgres_timeline\\{${labels}\\} (\\d+)$`, 'm'))).toBeGreaterThanOrEqual(2);
    expect(value(new RegExp(`^pgha_ha_loop_duration_seconds_count\\{${labels}\\} (\\d+)$`, 'm'))).toBeGreaterThan(3);
    expect(value(new RegExp(`^pgha_dcs_call_duration_seconds_count\\{${labels},operation="load_cluster"\\} (\\d+)$`, 'm'))).toBeGreaterThan(3);
    expect(value(new RegExp(`^pgha_dcs_call_duration_seconds_count\\{${labels},operation="update_leader"\\} (\\d+)$`, 'm'))).toBeGreaterThan(0);
    expect(value(new RegExp(`^pgha_fence_armed\\{${labels}\\} (\\d+)$`, 'm'))).toBe(1);
    expect(text).toMatch(new RegExp(`^pgha_last_decision_info\\{${labels},message="no action\\. I am \\(${leader.name}\\), the leader with the lock",reason=""\\} 1$`, 'm'));
  }, 30_000);
});
