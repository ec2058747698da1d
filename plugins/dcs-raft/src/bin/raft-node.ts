#!/usr/bin/env node
/**
 * Run one Raft member (no PostgreSQL) until SIGTERM/SIGINT:
 *   raft-node --self-addr 127.0.0.1:2222 --partner-addrs 127.0.0.1:2223,127.0.0.1:2224 --data-dir DIR [--password PW]
 *   raft-node --config raft.json        (a JSON object shaped like the `raft:` section)
 * Prints `raft member <self_addr> ready` once it listens.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { raftConfigSchema, type RaftConfig } from '../config.js';
import { startRaftMember } from '../runtime.js';

function configFromArgs(argv: string[]): RaftConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'self-addr': { type: 'string' },
      'bind-addr': { type: 'string' },
      'partner-addrs': { type: 'string' },
      'data-dir': { type: 'string' },
      password: { type: 'string' },
      'election-timeout-ms': { type: 'string' },
      'snapshot-every': { type: 'string' },
    },
  });
  const raw: Record<string, unknown> = values.config ? (JSON.parse(readFileSync(values.config, 'utf8')) as Record<string, unknown>) : {};
  if (values['self-addr']) raw.self_addr = values['self-addr'];
  if (values['bind-addr']) raw.bind_addr = values['bind-addr'];
  if (values['partner-addrs']) raw.partner_addrs = values['partner-addrs'].split(',').filter(Boolean);
  if (values['data-dir']) raw.data_dir = values['data-dir'];
  if (values.password) raw.password = values.password;
  if (values['election-timeout-ms']) raw.election_timeout_ms = Number(values['election-timeout-ms']);
  if (values['snapshot-every']) raw.snapshot_every = Number(values['snapshot-every']);
  return raftConfigSchema.parse(raw);
}

async function main(): Promise<void> {
  const config = configFromArgs(process.argv.slice(2));
  const handle = await startRaftMember(config, (msg) => process.stderr.write(msg + '\n'));
  process.stdout.write(`raft member ${handle.selfAddr} ready\n`);
  const stop = () => { void handle.close().then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`raft-node: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
