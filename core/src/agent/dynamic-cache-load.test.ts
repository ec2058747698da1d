/** patroni.dynamic.json is read at start: it stands in for /config until the DCS has one, as in Patroni. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { Agent, type AgentDeps } from './agent.js';
import { DynamicConfigCache } from './dynamic-cache.js';

function agent(dataDir: string) {
  const local = { config: { name: 'n1', scope: 's', bootstrap: { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 } }, postgresql: { data_dir: dataDir } }, raw: {}, source: 'x', baseDir: '/', warnings: [], consumedEnv: [] };
  const deps = {
    local, dcs: {}, pg: { onPostmasterExit: () => undefined, useRole: () => undefined }, logger: silentLogger, http: fetch, version: '4.1.0',
    dynamicCache: new DynamicConfigCache(dataDir, null, silentLogger),
  } as unknown as AgentDeps;
  return new Agent(deps);
}

describe('the cached dynamic configuration at start', () => {
  it('is used instead of bootstrap.dcs when present', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-cache-'));
    expect(agent(dir).settings).toMatchObject({ ttl: 30, loopWait: 10, paused: false });
    writeFileSync(join(dir, 'patroni.dynamic.json'), JSON.stringify({ ttl: 40, loop_wait: 5, retry_timeout: 10, pause: true }));
    expect(agent(dir).settings).toMatchObject({ ttl: 40, loopWait: 5, paused: true });
    writeFileSync(join(dir, 'patroni.dynamic.json'), '{broken');
    expect(agent(dir).settings).toMatchObject({ ttl: 30, loopWait: 10 });
  });
});
