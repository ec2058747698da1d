import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { SlotKeeper } from './keeper.js';
import type { SlotsIO } from './io.js';

/** SlotsIO whose advance fails with the given SQLSTATE (null: succeeds). */
function io(failWith: () => string | null): SlotsIO & { installed: string[] } {
  const installed: string[] = [];
  return {
    installed,
    async query(sql) {
      const code = sql.includes('pg_replication_slot_advance') ? failWith() : null;
      if (code) throw Object.assign(new Error(`advance failed (${code})`), { code });
      return [];
    },
    async queryMember() { return []; },
    writeSlotFiles(files) { installed.push(...files.map((f) => f.name)); },
  };
}

const advance = { op: 'advance_logical', name: 'cdc', database: 'app', lsn: 1000 } as const;
const settings = () => ({ node: { name: 'n2', nofailover: false, nostream: false, replicatefrom: null, memberSlotsTtl: 1800 } });

describe('SlotKeeper: a logical copy whose advance fails for good is reported for a new copy (Patroni)', () => {
  it.each([['58P01', 'WAL segment removed'], ['55000', 'slot invalidated']])('SQLSTATE %s (%s): reported until a new copy is installed', async (code) => {
    const keeper = new SlotKeeper(io(() => code), silentLogger, settings);
    await keeper.execute([advance]);
    await keeper.settle();
    expect(keeper.lostCopies()).toEqual(['cdc']);
    keeper.install([{ name: 'cdc', state: Buffer.from('x') }]);
    expect(keeper.lostCopies()).toEqual([]);
  });

  it('any other failure (a timeout, a lost connection) is retried by advancing, not by copying', async () => {
    const keeper = new SlotKeeper(io(() => '57014'), silentLogger, settings);
    await keeper.execute([advance]);
    await keeper.settle();
    expect(keeper.lostCopies()).toEqual([]);
  });

  it('a later successful advance clears the report', async () => {
    let code: string | null = '58P01';
    const keeper = new SlotKeeper(io(() => code), silentLogger, settings);
    await keeper.execute([advance]);
    await keeper.settle();
    expect(keeper.lostCopies()).toEqual(['cdc']);
    code = null;
    await keeper.execute([advance]);
    await keeper.settle();
    expect(keeper.lostCopies()).toEqual([]);
  });
});
