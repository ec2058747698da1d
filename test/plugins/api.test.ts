/**
 * The plugin seam: the apiVersion rule, errors recognised across two copies of @pgha/plugin-api,
 * manifests' `uses`, and the host handing each plugin exactly the services it declared.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError, Dcs, DcsError, ErrorCodes, PghaError, PluginHost, apiIncompatibility, createContainer, isDcsError,
  PLUGIN_API_VERSION, manifestProblems, provideService, replicaMethodResolver, serviceSource, silentLogger, systemClock, type DcsDriver,
} from '@pgha/core';

const apiDist = dirname(fileURLToPath(import.meta.resolve('@pgha/plugin-api')));

describe('apiVersion compatibility (this pgha provides 1.1)', () => {
  it('the core implements the API version this workspace\'s @pgha/plugin-api describes (bump both together)', async () => {
    expect(PLUGIN_API_VERSION).toBe((await import('@pgha/plugin-api')).PLUGIN_API_VERSION);
  });


  it.each([
    ['1.0', null],
    ['1.1', null],
    [1, null],
    ['1.2', 'plugin p needs plugin API 1.2, newer than this pgha provides (it supports plugin API 1.0–1.1): upgrade pgha'],
    ['2.0', 'plugin p needs plugin API 2.0, which this pgha does not support (it supports plugin API 1.0–1.1): upgrade pgha, or install a release of the plugin built for API 1.x'],
    ['0.9', 'plugin p needs plugin API 0.9, which this pgha does not support (it supports plugin API 1.0–1.1): install a release of the plugin built for API 1.x'],
    ['one', 'plugin p declares apiVersion "one", which is not a plugin API version (\'major.minor\'); this pgha supports plugin API 1.0–1.1'],
    [undefined, 'plugin p declares apiVersion undefined, which is not a plugin API version (\'major.minor\'); this pgha supports plugin API 1.0–1.1'],
  ])('%s → %s', (declared, expected) => {
    expect(apiIncompatibility('p', declared)).toBe(expected);
  });
});

describe('manifest uses', () => {
  const base = { kind: 'replica', name: 'm', configKey: 'm', create() { return null; } };
  it('accepts services of its API version and kind', () => {
    expect(manifestProblems({ ...base, apiVersion: '1.1', uses: ['logger', 'members'] })).toEqual([]);
  });
  it('refuses a service newer than the declared API version, an unknown one, and one not for its kind', () => {
    expect(manifestProblems({ ...base, apiVersion: '1.0', uses: ['members'] }))
      .toEqual(["uses: service members was added in plugin API 1.1; declare apiVersion '1.1' or later"]);
    expect(manifestProblems({ ...base, apiVersion: '1.1', uses: ['container'] })).toEqual([expect.stringContaining('uses: unknown service "container"')]);
    expect(manifestProblems({ ...base, kind: 'dcs', apiVersion: '1.1', uses: ['members'] })).toEqual(['uses: service members is not available to dcs plugins']);
  });
});

describe('errors from a second copy of @pgha/plugin-api', () => {
  async function secondCopy() {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-api-copy-'));
    mkdirSync(join(dir, 'dist'));
    // The JavaScript only, without source-map comments (the maps point into the workspace).
    for (const f of readdirSync(apiDist).filter((n) => n.endsWith('.js'))) {
      writeFileSync(join(dir, 'dist', f), readFileSync(join(apiDist, f), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, ''));
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    try {
      return (await import(pathToFileURL(join(dir, 'dist/index.js')).href)) as typeof import('@pgha/plugin-api');
    } finally {
      rmSync(dir, { recursive: true, force: true }); // loaded: the files are no longer needed
    }
  }

  it('are a distinct class, yet instanceof and isDcsError recognise them by brand and code', async () => {
    const copy = await secondCopy();
    expect(copy.DcsError).not.toBe(DcsError);
    const e = new copy.DcsError('etcd down', { code: copy.ErrorCodes.DCS_AUTH });
    expect(e instanceof DcsError).toBe(true);
    expect(e instanceof PghaError).toBe(true);
    expect(isDcsError(e)).toBe(true);
    expect(new DcsError('x') instanceof copy.DcsError).toBe(true);
    // Not every pgha error is a DcsError, nor every Error with a DCS-looking code.
    expect(new copy.PghaError(copy.ErrorCodes.CONFIG_INVALID, 'bad') instanceof DcsError).toBe(false);
    expect(Object.assign(new Error('x'), { code: ErrorCodes.DCS_UNAVAILABLE }) instanceof DcsError).toBe(false);
    // Subclasses declared in the core keep the prototype check.
    expect(new PghaError(ErrorCodes.CONFIG_INVALID, 'x') instanceof ConfigError).toBe(false);
    expect(new ConfigError([{ path: 'a', message: 'b' }]) instanceof PghaError).toBe(true);
  });

  it('the facade passes a copy\'s DcsError through unchanged (transient, code kept) instead of wrapping it', async () => {
    const copy = await secondCopy();
    const driver = { loadCluster: async () => { throw new copy.DcsError('denied', { code: copy.ErrorCodes.DCS_AUTH }); } } as unknown as DcsDriver;
    const err = await new Dcs(driver, { ttl: 30, loopWait: 10, retryTimeout: 10 }).getCluster().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DCS_AUTH, message: 'denied' });
  });
});

/** A plugin package in `<root>/node_modules/<pkg>`, found by its package.json `pgha` field. */
function installPlugin(root: string, pkg: string, kind: string, name: string, manifest: string): void {
  const dir = join(root, 'node_modules', pkg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: pkg, version: '0.0.1', type: 'module', main: 'index.js', pgha: { kind, name } }));
  writeFileSync(join(dir, 'index.js'), manifest);
}

describe('the host gives a plugin exactly the services it declares', () => {
  const http = (async () => new Response('')) as typeof fetch;
  const container = createContainer({ config: { scope: 's' }, logger: silentLogger, clock: systemClock, http });

  it('a DCS plugin declaring [logger, clock] receives those two and nothing else (no container)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-seam-'));
    installPlugin(root, 'pgha-plugin-seen', 'dcs', 'seen', `export let seen = null;
export default { kind: 'dcs', name: 'seen', apiVersion: '1.0', configKey: 'seen', uses: ['logger', 'clock'],
  create(ctx) { globalThis.__pghaSeen = Object.keys(ctx.services).sort(); throw new Error('stop here'); } };\n`);
    const host = new PluginHost({ config: { seen: {} }, searchRoots: [root], services: serviceSource(container) });
    await expect(host.createDcs({ name: 'n', scope: 's', namespace: '/service', basePath: '/service/s', ttl: 30, loopWait: 10, retryTimeout: 10, ctl: false }))
      .rejects.toThrow('seen: stop here');
    expect((globalThis as Record<string, unknown>).__pghaSeen).toEqual(['clock', 'logger']);
  });

  it('a replica plugin (API 1.1) gets `members` once the agent provides it, and is refused a clear reason before', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-seam-'));
    installPlugin(root, 'pgha-plugin-picky', 'replica', 'picky', `export default { kind: 'replica', name: 'picky', apiVersion: '1.1', configKey: 'picky', uses: ['members'],
  async create(ctx) { const list = await ctx.services.members.list();
    return { name: 'picky', noLeader: false, keepData: false, create: async () => list.length + Object.keys(ctx.services).length * 100 }; } };\n`);
    const c = createContainer({ logger: silentLogger });
    const resolve = replicaMethodResolver(new PluginHost({ config: {}, searchRoots: [root], services: serviceSource(c) }));
    const ctx = { scope: 's', name: 'n', dataDir: '/nonexistent', binDir: '/bin', bin: (t: string) => t, runAs: null, wipeDataDir() {}, logger: silentLogger };
    await expect(resolve('picky', {}, ctx)).rejects.toThrow('service members is not available here');
    provideService(c, 'members', { list: async () => [] });
    const method = await resolve('picky', {}, ctx);
    expect(await method!.create({ source: null, connstring: '', env: {}, signal: new AbortController().signal })).toBe(100);
  });

  it('a plugin with an incompatible apiVersion is refused, naming the package, its apiVersion and the supported range', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-seam-'));
    installPlugin(root, 'pgha-plugin-future', 'replica', 'future', `export default { kind: 'replica', name: 'future', apiVersion: '2.0', configKey: 'future', create() {} };\n`);
    const host = new PluginHost({ config: {}, searchRoots: [root] });
    await expect(host.replicaPlugin('future')).rejects.toMatchObject({
      code: ErrorCodes.PLUGIN_INCOMPATIBLE,
      message: 'plugin pgha-plugin-future needs plugin API 2.0, which this pgha does not support (it supports plugin API 1.0–1.1): upgrade pgha, or install a release of the plugin built for API 1.x',
    });
  });
});

describe('the members service', () => {
  it('maps the cluster read from the DCS to read-only member views (leader flagged, connKwargs kept)', async () => {
    const { buildCluster, membersService } = await import('@pgha/core');
    const nodes = [
      { key: 'leader', value: 'node1', version: 5 },
      { key: 'members/node1', value: JSON.stringify({ conn_url: 'postgres://10.0.0.1:5432/postgres', api_url: 'http://10.0.0.1:8008/patroni', state: 'running', role: 'primary', xlog_location: 100 }), version: 1 },
      { key: 'members/node2', value: JSON.stringify({ conn_url: 'postgres://10.0.0.2:5433/postgres', api_url: 'http://10.0.0.2:8008/patroni', state: 'running', role: 'replica', xlog_location: 90, tags: { clonefrom: true } }), version: 2 },
      { key: 'members/bad', value: '{not json', version: 3 },
    ];
    const list = await membersService(async () => buildCluster(nodes)).list();
    expect(list.map((m) => [m.name, m.role, m.state, m.isLeader, m.lsn, m.apiUrl])).toEqual([
      ['bad', null, 'unknown', false, null, null],
      ['node1', 'primary', 'running', true, 100, 'http://10.0.0.1:8008/patroni'],
      ['node2', 'replica', 'running', false, 90, 'http://10.0.0.2:8008/patroni'],
    ]);
    expect(list[2]!.tags).toEqual({ clonefrom: true });
    expect(list[2]!.connKwargs()).toMatchObject({ host: '10.0.0.2', port: 5433 });
    expect(Object.isFrozen(list[2])).toBe(true);
  });
});
