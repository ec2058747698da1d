/**
 * `pgha raft-witness CONFIG`: a Raft member without PostgreSQL (Patroni's patroni_raft_controller),
 * so two database nodes plus one witness form a quorum. Reads only the `raft:` section of the YAML
 * file, with Patroni's PATRONI_RAFT_* environment overrides; runs until SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { isPlainObject } from '@pgha/core';
import { raftConfigSchema, startRaftMember, type RaftConfig, type RaftMemberHandle } from '@pgha/dcs-raft';

/** PATRONI_RAFT_PARTNER_ADDRS is `'h1:p1','h2:p2'` in Patroni; plain comma lists work too. */
function addrList(v: string): string[] {
  return v.split(',').map((s) => s.trim().replace(/^['"]|['"]$/g, '')).filter(Boolean);
}

export function loadRaftWitnessConfig(file: string, env: NodeJS.ProcessEnv = process.env): RaftConfig {
  // Only the raft section, before validation (the schema below checks it): a missing or empty one reads as {}.
  const doc: unknown = parse(readFileSync(file, 'utf8'));
  const raft: Record<string, unknown> = { ...(isPlainObject(doc) && isPlainObject(doc.raft) ? doc.raft : {}) };
  const overrides: [string, string, (v: string) => unknown][] = [
    ['PATRONI_RAFT_SELF_ADDR', 'self_addr', (v) => v],
    ['PATRONI_RAFT_BIND_ADDR', 'bind_addr', (v) => v],
    ['PATRONI_RAFT_PARTNER_ADDRS', 'partner_addrs', addrList],
    ['PATRONI_RAFT_DATA_DIR', 'data_dir', (v) => v],
    ['PATRONI_RAFT_PASSWORD', 'password', (v) => v],
  ];
  for (const [name, key, conv] of overrides) if (env[name]) raft[key] = conv(env[name]);
  const r = raftConfigSchema.safeParse(raft);
  if (!r.success) throw new Error(`${file}: raft: ${r.error.issues.map((i) => `${i.path.join('.') || '(section)'}: ${i.message}`).join('; ')}`);
  if (!r.data.self_addr) throw new Error(`${file}: raft.self_addr is required for a witness`);
  return r.data;
}

export function runRaftWitness(config: RaftConfig, log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): Promise<RaftMemberHandle> {
  return startRaftMember(config, log);
}

export function registerRaftWitness(program: Command): void {
  program
    .command('raft-witness')
    .description('run a Raft member without PostgreSQL (quorum witness for the raft DCS)')
    .argument('<config>', 'configuration file with a raft: section')
    .action(async (file: string) => {
      const handle = await runRaftWitness(loadRaftWitnessConfig(file));
      process.stdout.write(`raft witness ${handle.selfAddr} running (members: ${[handle.selfAddr, ...handle.member.node.core.peersList()].join(', ')})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await handle.close();
    });
}
