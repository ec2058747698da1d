/** log.deduplicate_heartbeat_logs (Patroni 4): a cycle message equal to the previous one is not logged again at INFO. */
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../log.js';
import { Agent, type AgentDeps } from './agent.js';

function agent(dedupe: boolean | undefined, lines: string[]) {
  const logger = { ...silentLogger, info: (m: string) => lines.push(`INFO ${m}`), debug: (m: string) => lines.push(`DEBUG ${m}`) } as unknown as Logger;
  const local = { config: { name: 'n1', scope: 's', postgresql: { data_dir: '/nonexistent/data' }, log: dedupe === undefined ? {} : { deduplicate_heartbeat_logs: dedupe } }, raw: {}, source: 'x', baseDir: '/', warnings: [], consumedEnv: [] };
  return new Agent({ local, dcs: {}, pg: { onPostmasterExit: () => undefined, useRole: () => undefined }, logger, http: fetch, version: '4.1.0' } as unknown as AgentDeps);
}
const cycle = (a: Agent, m: string) => (a as unknown as { finish(m: string, r: null, c: null): Promise<string> }).finish(m, null, null);

describe('heartbeat log deduplication', () => {
  it('logs a repeated cycle message at DEBUG only when enabled', async () => {
    const on: string[] = [];
    const a = agent(true, on);
    for (const m of ['no action. I am (n1), the leader with the lock', 'no action. I am (n1), the leader with the lock', 'other', 'other', 'no action. I am (n1), the leader with the lock']) await cycle(a, m);
    expect(on).toEqual(['INFO no action. I am (n1), the leader with the lock', 'DEBUG no action. I am (n1), the leader with the lock', 'INFO other', 'DEBUG other', 'INFO no action. I am (n1), the leader with the lock']);
    const off: string[] = [];
    const b = agent(undefined, off);
    await cycle(b, 'x');
    await cycle(b, 'x');
    expect(off).toEqual(['INFO x', 'INFO x']);
  });
});
