/**
 * PGDATA inspection and housekeeping: empty/valid checks, pg_controldata, wiping before a clone
 * and moving a failed bootstrap aside.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chownTo, runCommand, type RunAs } from './exec.js';
import { parseLsn } from './lsn.js';

/** True when the directory is missing or has nothing in it (a lost+found of a fresh mount counts as empty). */
let versionFile = { dataDir: '', path: '' };

export function dataDirectoryEmpty(dataDir: string): boolean {
  // Asked several times every HA cycle: one stat answers for an initialised directory, without
  // listing it (and without building its path again).
  if (versionFile.dataDir !== dataDir) versionFile = { dataDir, path: join(dataDir, 'PG_VERSION') };
  if (existsSync(versionFile.path)) return false;
  if (!existsSync(dataDir)) return true;
  return readdirSync(dataDir).every((f) => f === 'lost+found' || f.startsWith('.'));
}

/** A valid PGDATA has PG_VERSION, global/pg_control and a WAL directory. */
export function dataDirectoryValid(dataDir: string): boolean {
  return ['PG_VERSION', 'global/pg_control'].every((f) => existsSync(join(dataDir, f)))
    && (existsSync(join(dataDir, 'pg_wal')) || existsSync(join(dataDir, 'pg_xlog')));
}

/** Major version from PG_VERSION (e.g. 15), or null. */
export function dataDirectoryMajor(dataDir: string): number | null {
  try {
    const v = Number(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export type ControlData = Readonly<Record<string, string>>;

/**
 * pg_control only changes when PostgreSQL rewrites it (checkpoints, state changes): the last output
 * is reused while the file's identity, size and mtime (nanoseconds) stay the same. An idle agent
 * then spawns no pg_controldata at all (a fork of the agent costs more CPU than the rest of its cycle).
 */
const controlCache = new Map<string, { stamp: string; value: ControlData }>();

function controlStamp(dataDir: string): string | null {
  try {
    const st = statSync(join(dataDir, 'global', 'pg_control'), { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null; // unreadable for this user: always ask pg_controldata
  }
}

/** Run pg_controldata (LANG=C so keys are English) and parse `key: value` lines. */
export async function controlData(pgControldata: string, dataDir: string, runAs?: RunAs | null): Promise<ControlData> {
  const stamp = controlStamp(dataDir);
  const hit = controlCache.get(dataDir);
  if (stamp !== null && hit?.stamp === stamp) return hit.value;
  const r = await runCommand(pgControldata, [dataDir], { runAs, env: { LANG: 'C', LC_ALL: 'C' } });
  if (r.code !== 0) throw new Error(`pg_controldata failed (${r.code}): ${r.stderr.trim()}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  // Stamped before the run: a rewrite during it leaves a stamp that no longer matches.
  if (stamp !== null) controlCache.set(dataDir, { stamp, value: out });
  return out;
}

export function systemIdentifier(cd: ControlData): string | null {
  return cd['Database system identifier'] ?? null;
}

/** "shut down", "shut down in recovery", "in production", "in archive recovery", "in crash recovery", ... */
export function clusterState(cd: ControlData): string | null {
  return cd['Database cluster state'] ?? null;
}

export function checkpointInfo(cd: ControlData): { lsn: bigint; redoLsn: bigint; timeline: number } | null {
  const lsn = cd['Latest checkpoint location'];
  const redo = cd["Latest checkpoint's REDO location"];
  const tli = cd["Latest checkpoint's TimeLineID"];
  if (!lsn || !redo || !tli) return null;
  return { lsn: parseLsn(lsn), redoLsn: parseLsn(redo), timeline: Number(tli) };
}

/** Delete everything inside PGDATA but keep the directory (its owner and mode stay right). */
export function wipeDataDirectory(dataDir: string, runAs?: RunAs | null): void {
  if (existsSync(dataDir)) {
    for (const f of readdirSync(dataDir)) rmSync(join(dataDir, f), { recursive: true, force: true });
  } else {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chownTo(dataDir, runAs);
  }
  chmodSync(dataDir, 0o700);
}

/** Move PGDATA to `<data_dir>_<YYYY-MM-DD-HH-MM-SS>` (Patroni's name) and return the new path. */
export function moveDataDirectoryAside(dataDir: string, now = new Date()): string | null {
  if (!existsSync(dataDir)) return null;
  const pad = (n: number) => String(n).padStart(2, '0');
  const ts = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}-${pad(now.getMinutes())}-${pad(now.getSeconds())}`;
  let target = `${dataDir}_${ts}`;
  for (let i = 1; existsSync(target); i++) target = `${dataDir}_${ts}.${i}`;
  renameSync(dataDir, target);
  return target;
}

/** Make sure PGDATA exists, belongs to the PostgreSQL user and has mode 0700. */
export function ensureDataDirectory(dataDir: string, runAs?: RunAs | null): void {
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (statSync(dataDir).isDirectory()) {
    chownTo(dataDir, runAs);
    chmodSync(dataDir, 0o700);
  }
}
