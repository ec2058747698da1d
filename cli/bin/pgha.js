#!/usr/bin/env node
import { main } from '../dist/main.js';

// Exit once the command is done even if a client (DCS, SQL) still holds the event loop open,
// after stdout has been flushed.
const exit = (code) => process.stdout.write('', () => process.exit(code));

main(process.argv).then(exit, (err) => {
  console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
  exit(1);
});
