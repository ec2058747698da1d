/**
 * PostgreSQL refuses to run as root, so a root demo runs its agents (and through them postgres) as
 * the unprivileged OS user `pgha` (PGHA_DEMO_USER), creating it with useradd when it is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export const DEMO_USER = process.env.PGHA_DEMO_USER ?? 'pgha';

export interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function lookup(name: string): RunAs | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : null;
  } catch {
    return null;
  }
}

/** null when we are not root (agents run as us); else the user, created if needed; throws with advice. */
export function demoRunAs(say: (s: string) => void): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const found = lookup(DEMO_USER);
  if (found) return found;
  say(`running as root: creating the unprivileged system user '${DEMO_USER}' for the agents (postgres refuses to run as root)`);
  const r = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', DEMO_USER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const created = r.status === 0 ? lookup(DEMO_USER) : null;
  if (created) return created;
  const why = r.error ? r.error.message : r.stderr?.toString().trim();
  throw new Error(
    `could not create the OS user '${DEMO_USER}'${why ? ` (${why})` : ''}.\n` +
    `Create it yourself:  useradd --system --shell /usr/sbin/nologin ${DEMO_USER}\n` +
    `or run the demo as an ordinary (non-root) user.`,
  );
}
