/**
 * Has my timeline diverged from the leader's? (Patroni's "check diverged LSN".) Compares the local
 * end of WAL (from pg_control after a clean shutdown) with the point where the leader's timeline
 * history forked from mine, fetched over a replication connection (IDENTIFY_SYSTEM, TIMELINE_HISTORY).
 * When unsure it says "rewind": pg_rewind on a non-diverged server is a harmless no-op.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from '../postgres/pg-driver.js';
import { runCommand } from '../postgres/exec.js';
import type { PostgresController } from '../postgres/controller.js';
import { checkpointInfo, clusterState, type ControlData } from '../postgres/datadir.js';
import { parseLsn } from '../postgres/lsn.js';
import { canRewind, ensureCleanShutdown } from '../postgres/rewind.js';
import { sourceConnKwargs } from '../postgres/recovery.js';
import type { ReplicaSource } from '../replica/contract.js';

export type Divergence = 'not_needed' | 'need_rewind' | 'need_reinit';

/** Lines of a timeline history file: `parentTLI <tab> switchpoint <tab> reason`. */
export function parseTimelineHistory(text: string): Array<[number, bigint, string]> {
  const out: Array<[number, bigint, string]> = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line);
    if (m) out.push([Number(m[1]), parseLsn(m[2]!), m[3]!.trim()]);
  }
  return out;
}

/** My own history file for `timeline` (null when it cannot be read). */
function localHistory(controller: PostgresController, timeline: number): string | null {
  try {
    return readFileSync(join(controller.dataDir, 'pg_wal', `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`), 'utf8');
  } catch {
    return null;
  }
}

/** Two history files name the same parents and switch points. */
export function sameHistory(a: string, b: string): boolean {
  const key = (t: string) => parseTimelineHistory(t).map(([tl, lsn]) => `${tl}@${lsn}`).join(',');
  return key(a) === key(b);
}

/** Local timeline and end-of-WAL position from pg_control, plus whether it was a replica. */
export function localPosition(cd: ControlData): { timeline: number; lsn: bigint; wasReplica: boolean } | null {
  const state = clusterState(cd);
  if (state === 'shut down in recovery' || state === 'in archive recovery') {
    const lsn = cd['Minimum recovery ending location'];
    const tl = Number(cd["Min recovery ending loc's timeline"] ?? '0');
    if (lsn && lsn !== '0/0' && tl > 0) return { timeline: tl, lsn: parseLsn(lsn), wasReplica: true };
  }
  const cp = checkpointInfo(cd);
  return cp ? { timeline: cp.timeline, lsn: cp.lsn, wasReplica: false } : null;
}

async function leaderTimeline(controller: PostgresController, source: ReplicaSource): Promise<{ timeline: number; history: string | null }> {
  const kw = sourceConnKwargs(source, controller.settings.replication, true);
  const client = new pg.Client({
    host: String(kw.host), port: Number(kw.port ?? 5432), user: String(kw.user ?? ''),
    password: kw.password === undefined ? undefined : String(kw.password), database: 'postgres',
    replication: 'database', connectionTimeoutMillis: 5000,
  } as pg.ClientConfig);
  // A leader that stops mid-check ends the connection; the error reaches the query, and must not end the agent.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const id = await client.query('IDENTIFY_SYSTEM');
    const timeline = Number(id.rows[0]?.timeline);
    if (timeline <= 1) return { timeline, history: null };
    const h = await client.query(`TIMELINE_HISTORY ${timeline}`);
    const content = h.rows[0]?.content as Buffer | string | undefined;
    return { timeline, history: content === undefined ? '' : Buffer.isBuffer(content) ? content.toString('utf8') : String(content) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** End of the WAL record at `lsn` (the shutdown checkpoint), by pg_waldump; null when unknown. */
async function recordEnd(controller: PostgresController, timeline: number, lsn: bigint): Promise<bigint | null> {
  const start = `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
  const r = await runCommand(join(controller.settings.binDir, 'pg_waldump'), ['-t', String(timeline), '-s', start, '-n', '2', '-p', join(controller.dataDir, 'pg_wal')],
    { runAs: controller.runAs, logger: controller.logger }).catch(() => null);
  if (!r) return null;
  const text = `${r.stdout}\n${r.stderr}`;
  const lsns = [...text.matchAll(/lsn: ([0-9A-F]+\/[0-9A-F]+)/gi)].map((m) => parseLsn(m[1]!));
  if (lsns.length >= 2) return lsns[1]!;
  const end = /invalid record length at ([0-9A-F]+\/[0-9A-F]+)/i.exec(text) ?? /at ([0-9A-F]+\/[0-9A-F]+): wanted/i.exec(text);
  return end ? parseLsn(end[1]!) : null;
}

/**
 * A running replica: its timeline (received, else replayed) and how far it got (max of received and
 * replayed). Diverged when it is past the point where the leader's timeline left its own.
 */
export async function checkRunningReplicaDiverged(controller: PostgresController, source: ReplicaSource): Promise<Divergence> {
  const st = await controller.status();
  if (!st?.inRecovery || st.timeline === null) return 'not_needed';
  const lsn = [st.receiveLsn, st.replayLsn].reduce<bigint>((a, b) => (b !== null && b !== undefined && b > a ? b : a), 0n);
  const rewindable = await canRewind(controller).catch(() => false);
  return compareWithLeader(controller, source, { timeline: st.timeline, lsn, wasReplica: true }, rewindable);
}

export async function checkDiverged(controller: PostgresController, source: ReplicaSource): Promise<Divergence> {
  if (controller.isRunning()) return checkRunningReplicaDiverged(controller, source);
  // A failed crash recovery says nothing about the timeline (a leftover process may still hold the
  // shared memory): the check is retried at the next cycle, as Patroni does, instead of giving up on
  // the data directory.
  if (!(await ensureCleanShutdown(controller))) throw new Error('single-user crash recovery failed (see above); retrying at the next cycle');
  const cd = await controller.controlData();
  const local = localPosition(cd);
  const rewindable = await canRewind(controller).catch(() => false);
  if (!local) return rewindable ? 'need_rewind' : 'need_reinit';
  return compareWithLeader(controller, source, local, rewindable);
}

async function compareWithLeader(controller: PostgresController, source: ReplicaSource,
  local: { timeline: number; lsn: bigint; wasReplica: boolean }, rewindable: boolean): Promise<Divergence> {
  const verdict = (need: boolean): Divergence => (need ? (rewindable ? 'need_rewind' : 'need_reinit') : 'not_needed');
  const leader = await leaderTimeline(controller, source);
  if (local.timeline === leader.timeline) {
    // The same number is the same history unless two promotions picked it without seeing each
    // other (no shared archive): then the history files differ, and pg_rewind finds the real fork.
    if (local.timeline <= 1 || leader.history === null) return 'not_needed';
    const mine = localHistory(controller, local.timeline);
    return verdict(mine !== null && !sameHistory(mine, leader.history));
  }
  if (local.timeline > leader.timeline) return verdict(true);
  const history = parseTimelineHistory(leader.history ?? '');
  for (const [parent, switchpoint] of history) {
    if (parent === local.timeline) {
      if (local.wasReplica) return verdict(local.lsn > switchpoint);
      if (local.lsn >= switchpoint) return verdict(true);
      // A cleanly stopped former primary: its shutdown checkpoint record ends exactly at the fork.
      const end = await recordEnd(controller, local.timeline, local.lsn);
      return verdict(end === null || end !== switchpoint);
    }
    if (parent > local.timeline) break;
  }
  return verdict(true);
}
