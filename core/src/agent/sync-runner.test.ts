/**
 * The SyncRunner against an in-memory DCS and a scripted PostgreSQL: PostgreSQL before `/sync`
 * when adding, `/sync` before PostgreSQL when removing, and a lost compare-and-swap stops the
 * cycle before PostgreSQL stops waiting for anyone.
 */
import { describe, expect, it } from 'vitest';
import { clusterBasePath, type DcsContext } from '../dcs/driver.js';
import { Dcs } from '../dcs/facade.js';
import { silentLogger } from '../log.js';
import { MemoryDriver, MemoryStore } from '../testing/memory-driver.js';
import type { SyncSettings } from '../ha/types.js';
import type { PostgresPort, SyncPgStatus } from './postgres-port.js';
import { SyncRunner } from './sync-runner.js';

const ON: SyncSettings = { mode: true, strict: false, nodeCount: 1, maxLagOnSyncnode: -1 };

/** PostgreSQL as the runner sees it: the value set, and walsenders that report `sync` once listed. */
function fakePg(events: string[], streaming: string[]) {
  let ssn = '';
  const port = {
    syncStatus: async (): Promise<SyncPgStatus> => ({
      ssn, synchronousCommit: 'on', flushLsn: 1000,
      replication: streaming.map((name, i) => ({ pid: 100 + i, name, state: 'streaming', syncState: ssn.includes(name) ? 'sync' : 'async', write: 1000, flush: 1000, replay: 1000 })),
    }),
    setSyncStandbyNames: async (v: string | null | undefined) => {
      const next = v ?? '';
      if (next === ssn) return false;
      ssn = next;
      events.push(`ssn=${next}`);
      return true;
    },
  } as unknown as PostgresPort;
  return { port, streaming };
}

async function setup(streaming: string[], tags: Record<string, Record<string, unknown>> = {}) {
  const store = new MemoryStore();
  const ctx: DcsContext = { name: 'a', scope: 's', namespace: '/service', basePath: clusterBasePath('/service', 's'), ttl: 30, loopWait: 10, retryTimeout: 10, ctl: false };
  const dcs = new Dcs(new MemoryDriver(store, ctx), { ttl: 30, loopWait: 10, retryTimeout: 10 });
  for (const n of ['a', 'b', 'c']) await new MemoryDriver(store, { ...ctx, name: n }).touchMember({ state: 'running', role: n === 'a' ? 'primary' : 'replica', api_url: `http://${n}/patroni`, conn_url: `postgres://${n}:5432/postgres`, tags: tags[n] ?? {} });
  const events: string[] = [];
  const pg = fakePg(events, streaming);
  const origWrite = dcs.writeSyncState.bind(dcs);
  dcs.writeSyncState = async (...args) => {
    const r = await origWrite(...args);
    events.push(`/sync=${[...(args[1] ?? [])].join(',')}${r ? '' : ' (lost)'}`);
    return r;
  };
  return { dcs, store, events, runner: new SyncRunner('a', pg.port, dcs, silentLogger), pg };
}

describe('SyncRunner', () => {
  it('adding a standby: PostgreSQL first, /sync once it streams as sync', async () => {
    const { dcs, events, runner } = await setup(['b']);
    await runner.process(await dcs.getCluster(), ON);
    expect(events).toEqual(['/sync=', 'ssn=b', '/sync=b']);
    expect((await dcs.getCluster()).sync.members).toEqual(['b']);
  });

  it('removing a standby: /sync first, then PostgreSQL', async () => {
    const { dcs, events, runner, pg } = await setup(['b']);
    await runner.process(await dcs.getCluster(), ON);
    events.length = 0;
    pg.streaming.splice(0, 1, 'c');
    await runner.process(await dcs.getCluster(), ON);
    expect(events.slice(0, 2)).toEqual(['/sync=', 'ssn=c']);
    expect(events.at(-1)).toBe('/sync=c');
  });

  it('a lost compare-and-swap on /sync leaves PostgreSQL waiting for the old standby', async () => {
    const { dcs, events, runner, pg, store } = await setup(['b']);
    await runner.process(await dcs.getCluster(), ON);
    const stale = await dcs.getCluster();
    // Somebody else (a new leader) rewrote /sync meanwhile.
    store.put('/service/s/sync', '{"leader":"c","sync_standby":null}', null, null);
    events.length = 0;
    pg.streaming.splice(0, 1);
    await runner.process(stale, ON);
    expect(events).toEqual(['/sync= (lost)']);
  });

  it('promotion in strict mode keeps waiting for the old leader; a lost CAS postpones it', async () => {
    const { dcs, events, runner, store } = await setup([]);
    store.put('/service/s/sync', '{"leader":"b","sync_standby":"a"}', null, null);
    expect(await runner.prepromote(await dcs.getCluster(), { ...ON, strict: true })).toBe(true);
    expect(events).toEqual(['/sync=b', 'ssn=b']);
    const stale = await dcs.getCluster();
    store.put('/service/s/sync', '{"leader":"c","sync_standby":null}', null, null);
    events.length = 0;
    expect(await runner.prepromote(stale, { ...ON, strict: true })).toBe(false);
    expect(events).toEqual(['/sync=b (lost)']);
  });

  it('a nosync member (or sync_priority 0) is never picked: alone, commits are not protected; strict, they wait', async () => {
    for (const tag of [{ nosync: true }, { sync_priority: 0 }]) {
      const { dcs, events, runner } = await setup(['c'], { c: tag });
      await runner.process(await dcs.getCluster(), ON);
      expect(events).toEqual(['/sync=']);
      const strict = await setup(['c'], { c: tag });
      await strict.runner.process(await strict.dcs.getCluster(), { ...ON, strict: true });
      expect(strict.events).toEqual(['/sync=', 'ssn=__patroni_strict_sync_replica_placeholder__']);
    }
  });

  it('sync_priority: the higher one is preferred', async () => {
    const { dcs, events, runner } = await setup(['b', 'c'], { c: { sync_priority: 5 } });
    await runner.process(await dcs.getCluster(), ON);
    expect(events).toEqual(['/sync=', 'ssn=c', '/sync=c']);
  });

  it('mode off: /sync deleted and the user gets synchronous_standby_names back', async () => {
    const { dcs, events, runner } = await setup(['b']);
    await runner.process(await dcs.getCluster(), ON);
    await runner.process(await dcs.getCluster(), { ...ON, mode: false });
    expect((await dcs.getCluster()).sync.isEmpty).toBe(true);
    expect(events.at(-1)).toBe('ssn=');
  });
});
