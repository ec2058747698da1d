/**
 * @pgha/dcs-raft: the DCS as an embedded Raft cluster (Patroni's `raft:` section). An agent runs a
 * Raft member in-process; ctl-mode clients talk to the members over TCP.
 */
import { definePlugin } from '@pgha/core';
import { raftConfigSchema, type RaftConfig } from './config.js';
import { RaftDriver } from './driver.js';
import { RemoteKv } from './net/remote-kv.js';
import { startRaftMember } from './runtime.js';

export { raftConfigSchema, type RaftConfig } from './config.js';
export { RaftDriver } from './driver.js';
export { RemoteKv } from './net/remote-kv.js';
export { KvMember } from './kv/member.js';
export type { KvApi } from './kv/api.js';
export { startRaftMember, type RaftMemberHandle } from './runtime.js';

export default definePlugin<RaftConfig>({
  kind: 'dcs',
  name: 'raft',
  apiVersion: '1.0',
  configKey: 'raft',
  configSchema: raftConfigSchema,
  description: 'embedded Raft consensus (no external DCS); pair two database nodes with a `pgha raft-witness`',
  async create(ctx, config) {
    if (ctx.ctl || !config.self_addr) {
      const addrs = [...new Set([...(config.self_addr ? [config.self_addr] : []), ...config.partner_addrs])];
      return new RaftDriver(new RemoteKv(addrs, config.password ?? ''), ctx);
    }
    const handle = await startRaftMember(config);
    return new RaftDriver(handle.member, ctx, () => handle.close());
  },
});
