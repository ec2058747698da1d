/**
 * `pgha raft-witness`: the witness reads the raft: section of a Patroni-style YAML file (with
 * PATRONI_RAFT_* overrides) and, with two database members' Raft members, forms a quorum that
 * survives losing either database member.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRaftWitnessConfig, runRaftWitness } from '../../cli/src/commands/raft-witness.js';
import { fullProgram } from '../../cli/src/main.js';
import { startRaftMember, type RaftMemberHandle } from '../../plugins/dcs-raft/src/runtime.js';
import { waitFor } from '../helpers/procs.js';
import { raftConfigs, type TestCluster } from './cluster.js';

let cluster: TestCluster | null = null;
let handles: (RaftMemberHandle | null)[] = [];
/** The witness comes through the CLI, i.e. the built package: its own handle type. */
let witnessHandle: { close(): Promise<void> } | null = null;

afterEach(async () => {
  await Promise.all([...handles, witnessHandle].map((h) => h?.close()));
  handles = [];
  witnessHandle = null;
  cluster?.removeDirs();
  cluster = null;
});

function witnessYaml(dir: string, self: string, partners: string[], extra = ''): string {
  const file = join(dir, 'witness.yml');
  writeFileSync(file, `scope: demo\nname: witness\nraft:\n  self_addr: ${self}\n  partner_addrs:\n${partners.map((p) => `    - ${p}\n`).join('')}  data_dir: ${dir}\n  password: pw\n  election_timeout_ms: 300\n${extra}`);
  return file;
}

describe('pgha raft-witness', () => {
  it('is a pgha verb', async () => {
    expect((await fullProgram()).commands.map((c) => c.name())).toContain('raft-witness');
  });

  it('reads the raft: section and PATRONI_RAFT_* overrides, and rejects a missing self_addr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-witness-'));
    try {
      const file = witnessYaml(dir, '127.0.0.1:7000', ['127.0.0.1:7001', '127.0.0.1:7002']);
      const c = loadRaftWitnessConfig(file, {});
      expect(c).toMatchObject({ self_addr: '127.0.0.1:7000', partner_addrs: ['127.0.0.1:7001', '127.0.0.1:7002'], password: 'pw' });
      const o = loadRaftWitnessConfig(file, { PATRONI_RAFT_PARTNER_ADDRS: "'127.0.0.1:8001','127.0.0.1:8002'", PATRONI_RAFT_SELF_ADDR: '127.0.0.1:8000' });
      expect(o).toMatchObject({ self_addr: '127.0.0.1:8000', partner_addrs: ['127.0.0.1:8001', '127.0.0.1:8002'] });
      writeFileSync(join(dir, 'no-raft.yml'), 'scope: demo\nraft:\n  partner_addrs: [127.0.0.1:1]\n');
      expect(() => loadRaftWitnessConfig(join(dir, 'no-raft.yml'), {})).toThrow(/self_addr/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two database members and a witness keep a quorum when a database member is lost', async () => {
    cluster = await raftConfigs(3, { password: 'pw' });
    const [db1, db2, w] = cluster.configs;
    handles.push(await startRaftMember(db1!), await startRaftMember(db2!));
    const witness = await runRaftWitness(loadRaftWitnessConfig(witnessYaml(cluster.dirs[2]!, w!.self_addr!, w!.partner_addrs), {}), () => {});
    witnessHandle = witness;
    expect((await handles[0]!.member.submit({ op: 'set', key: '/w/a', value: '1', ttlMs: null }, 5000)).ok).toBe(true);
    await waitFor(() => witness.member.state.get('/w/a'), 5000, 'replication to the witness');

    // Lose database member 1: member 2 and the witness still commit (electing a new leader if needed).
    await handles[0]!.close();
    handles[0] = null;
    expect((await handles[1]!.member.submit({ op: 'set', key: '/w/b', value: '2', ttlMs: null }, 8000)).ok).toBe(true);
    expect((await witness.member.list('/w/', 5000)).map((e) => e.value)).toEqual(['1', '2']);

    // Losing the second database member too leaves the witness alone: no quorum, writes time out.
    await handles[1]!.close();
    handles[1] = null;
    await expect(witness.member.submit({ op: 'set', key: '/w/c', value: '3', ttlMs: null }, 1500)).rejects.toThrow(/quorum/);
  });
});
