/**
 * The unprivileged OS user that runs postgres (and agents in e2e tests) when tests run as root.
 * scripts/install-deps.sh creates it; tests fail with that advice when it is missing.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_USER = process.env.PGHA_TEST_USER ?? 'pgha';

let cached: { uid: number; gid: number } | null | undefined;

/** uid/gid to run as, or null when we are not root (then we already are unprivileged). */
export function testUser(): { uid: number; gid: number } | null {
  if (cached !== undefined) return cached;
  if (process.getuid?.() !== 0) return (cached = null);
  try {
    const uid = Number(execFileSync('id', ['-u', TEST_USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', TEST_USER]).toString().trim());
    return (cached = { uid, gid });
  } catch {
    throw new Error(`OS user '${TEST_USER}' is missing: run 'sudo bash scripts/install-deps.sh' (it creates the user postgres runs as)`);
  }
}

/** spawn() options that drop to the test user when root. */
export function runAsOptions(): { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } {
  const u = testUser();
  if (!u) return {};
  return { uid: u.uid, gid: u.gid, env: { ...process.env, HOME: '/tmp', USER: TEST_USER } };
}

/** A fresh temporary directory the test user owns. */
export function userTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pgha-${prefix}-`));
  const u = testUser();
  if (u) chownSync(dir, u.uid, u.gid);
  return dir;
}
