/** POST /reinitialize `from_leader` (Patroni 3.1+): clone from the leader, not a clonefrom member. */
import { afterEach, describe, expect, it } from 'vitest';
import { threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

describe('POST /reinitialize from_leader', () => {
  it('passes from_leader (parsed like force) to the agent', async () => {
    const { backend } = await threeNodeCluster();
    const seen: Array<[boolean, boolean | undefined]> = [];
    backend.reinitialize = async (force: boolean, fromLeader?: boolean) => { seen.push([force, fromLeader]); return [true, '']; };
    const s = await startApi(backend);
    server = s.server;
    for (const body of [undefined, { from_leader: true }, { force: 'on', from_leader: 'off' }, { from_leader: 'yes' }]) {
      expect((await call(s.port, { method: 'POST', path: '/reinitialize', body })).status).toBe(200);
    }
    expect(seen).toEqual([[false, false], [false, true], [true, false], [false, true]]);
  });
});
