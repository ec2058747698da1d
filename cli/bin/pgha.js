#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --single-threaded-gc
// The agent idles between short cycles on a heap of about 20 MB (npm run bench:footprint):
// - --single-threaded-gc: V8's parallel and concurrent GC threads cost more in hand-offs than they
//   save there (idle CPU about halved);
// - MALLOC_ARENA_MAX=1: glibc gives every thread that allocates an arena of its own; one arena for
//   the process keeps about 7 MB less resident (PostgreSQL and the scripts the agent starts inherit
//   it; they are single-threaded, so it changes nothing for them).
// Neither can be changed once Node runs, so they ride on this line; whoever starts this file with
// `node` directly (the demo, the tests) takes them from here (cli/src/node-flags.ts).
import { main } from '../dist/main.js';

// Exit once the command is done even if a client (DCS, SQL) still holds the event loop open,
// after stdout has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv).then(exit, (err) => {
  console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
  exit(1);
});
