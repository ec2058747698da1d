#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --single-threaded-gc --optimize-for-size --no-opt --always-sparkplug
// The agent idles between short cycles on a heap of about 20 MB (npm run bench:footprint):
// - --single-threaded-gc: V8's parallel and concurrent GC threads cost more in hand-offs than they
//   save there (idle CPU about halved);
// - --optimize-for-size: the old generation may grow by 2 MB between full collections instead of
//   8 MB. Each cycle's short-lived objects that outlive a young collection pile up there; without
//   it an idle agent's heap went from 25 to about 31 MB committed over 20 minutes and stayed,
//   with it 26-27 MB, at no CPU cost we could measure (two 20-minute runs side by side);
// - --no-opt: no optimizing compiler. Code that runs once per loop never gets hot enough to gain
//   from it, while its compile jobs' scratch memory (heaptrack: up to 7 MB at once) stayed in
//   glibc's heap: agents settled at 75-80 MB with it, 71-73 MB without, at the same idle CPU;
// - --always-sparkplug: functions go to V8's baseline (non-optimizing, single-pass) compiler when
//   first compiled, instead of the bytecode interpreter until a call budget runs out, which a
//   function called once per loop takes many minutes to spend. Idle CPU 4-7 % lower on every node
//   in the first minutes after a start (three rounds side by side, 30 s after healthy), the same once
//   settled (one round 10 minutes after healthy), and rarely run paths (failover, REST) run compiled
//   on their first call; for about 4 MB more resident and 0.05 s more to start a command;
// - MALLOC_ARENA_MAX=1: glibc gives every thread that allocates an arena of its own; one arena for
//   the process keeps about 7 MB less resident (PostgreSQL and the scripts the agent starts inherit
//   it; they are single-threaded, so it changes nothing for them).
// None can be changed once Node runs, so they ride on this line; whoever starts this file with
// `node` directly (the demo, the tests) takes them from here (cli/src/node-flags.ts).
import { main } from '../dist/main.js';

// Exit once the command is done even if a client (DCS, SQL) still holds the event loop open,
// after stdout has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv).then(exit, (err) => {
  console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
  exit(1);
});
