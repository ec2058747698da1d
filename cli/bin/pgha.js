#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: the agent idles between short cycles on a heap of about 20 MB, where V8's
// parallel and concurrent GC threads cost more in hand-offs than they save (npm run bench:footprint:
// idle CPU about halved). V8 cannot change this after start, so it rides on the shebang; whoever
// starts this file with `node` directly (the demo, the tests) takes the flags from this line
// (cli/src/node-flags.ts).
import { main } from '../dist/main.js';

// Exit once the command is done even if a client (DCS, SQL) still holds the event loop open,
// after stdout has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv).then(exit, (err) => {
  console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
  exit(1);
});
