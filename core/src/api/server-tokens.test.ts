/** restapi.server_tokens (Patroni 4.1) sets the Server header. */
import { afterEach, describe, expect, it } from 'vitest';
import { threeNodeCluster } from './fake-backend.js';
import type { ApiServer } from './server.js';
import { call, startApi } from './test-client.js';

let server: ApiServer | null = null;
afterEach(async () => { await server?.stop(); server = null; });

describe('restapi.server_tokens', () => {
  it.each<[string | undefined, string | undefined]>([
    ['Minimal', 'Patroni/4.0.2'], ['ProductOnly', 'Patroni'], ['productonly', 'Patroni'], ['Original', undefined], [undefined, undefined], ['bogus', undefined],
  ])('%s -> %s', async (token, header) => {
    const { backend } = await threeNodeCluster();
    const s = await startApi(backend, token === undefined ? {} : { server_tokens: token });
    server = s.server;
    const r = await call(s.port, { method: 'GET', path: '/liveness' });
    expect(r.headers.server).toBe(header);
  });
});
