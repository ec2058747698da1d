/**
 * node-postgres, loaded so that it does not pull in fetch. At load, pg 8 tells Cloudflare Workers
 * apart by constructing `new Response(null, { cf })`; on Node 20 (no `navigator`) touching
 * `Response` loads undici and compiles its WebAssembly HTTP parser (see util/http-request.ts for
 * what that cost the agent). With `Response` hidden for that moment pg takes its Node path, as it
 * would anyway. Every module of the agent imports pg from here.
 */
import { createRequire } from 'node:module';
import type * as Pg from 'pg';

function load(): typeof Pg {
  const response = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  const hide = response?.configurable === true;
  if (hide) Object.defineProperty(globalThis, 'Response', { value: undefined, configurable: true, writable: true });
  try {
    return createRequire(import.meta.url)('pg') as typeof Pg;
  } finally {
    if (hide) Object.defineProperty(globalThis, 'Response', response);
  }
}

const pg = load();
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace pg {
  export type Client = Pg.Client;
  export type ClientConfig = Pg.ClientConfig;
  export type QueryArrayResult = Pg.QueryArrayResult;
}
export default pg;
