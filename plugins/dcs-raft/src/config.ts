/**
 * The `raft:` section, as Patroni reads it (self_addr, bind_addr, partner_addrs, data_dir,
 * password), plus optional timing knobs of ours.
 */
import { z } from 'zod';

const addr = z.string().regex(/^\[?[^\s\]]+\]?:\d+$/, 'expected host:port');

export const raftConfigSchema = z.looseObject({
  /** This member's address as the others reach it; its Raft identity. Absent: a client only (ctl). */
  self_addr: addr.optional(),
  /** Where to listen; defaults to self_addr (e.g. `0.0.0.0:2222` behind NAT). */
  bind_addr: addr.optional(),
  partner_addrs: z.array(addr).default([]),
  /** Raft log, snapshot, term and vote; Patroni's default is the working directory. */
  data_dir: z.string().optional(),
  password: z.string().optional(),
  election_timeout_ms: z.number().int().positive().optional(),
  heartbeat_ms: z.number().int().positive().optional(),
  snapshot_every: z.number().int().positive().optional(),
});

export type RaftConfig = z.output<typeof raftConfigSchema>;
