#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --single-threaded-gc
// The agent idles between short cycles on a heap of about 20 MB (npm run bench:footprint):
// - --single-threaded-gc: V8's parallel and concurrent GC threads cost more in hand-offs than they
//   save there (idle CPU about halved);
// - MALLOC_ARENA_MAX=1: glibc gives every thread that allocates an arena of its own; one arena for
//   the process keeps about 7 MB less resident (PostgreSQL and the scripts the agent starts inherit
//   it; they are single-threaded, so it changes nothing for them);
// - MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ fixed at glibc's initial 128 KiB: by default the
//   first large buffer freed raises both (they never come down), after which freed buffers stay
//   resident; a leader's agent settled anywhere between 79 and 90 MB, with them at 78-81 MB.
// None can be changed once Node runs, so they ride on this line; whoever starts this file with
// `node` directly (the demo, the tests) takes them from here (cli/src/node-flags.ts).
import { main } from '../dist/main.js';

// glibc read the thresholds when the agent started. PostgreSQL and the tools the agent runs keep
// glibc's adaptive ones: fixed, every sort or hash buffer over 128 KiB would be a fresh mmap.
delete process.env.MALLOC_MMAP_THRESHOLD_;
delete process.env.MALLOC_TRIM_THRESHOLD_;

// Exit once the command is done even if a client (DCS, SQL) still holds the event loop open,
// after stdout has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv).then(exit, (err) => {
  console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
  exit(1);
});
