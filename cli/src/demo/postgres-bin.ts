/** Where the PostgreSQL server binaries are: PGHA_PG_BIN_DIR, `pg_config --bindir`, or Debian's /usr/lib/postgresql/N/bin. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const REQUIRED_PG_TOOLS = ['postgres', 'initdb', 'pg_ctl', 'pg_controldata', 'pg_basebackup', 'pg_rewind'] as const;

export function missingTools(dir: string): string[] {
  return REQUIRED_PG_TOOLS.filter((t) => !existsSync(join(dir, t)));
}

function pgConfigBindir(): string | null {
  try {
    return execFileSync('pg_config', ['--bindir'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || null;
  } catch {
    return null;
  }
}

function debianDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

export type BinDirResult = { ok: true; dir: string } | { ok: false; message: string };

/** The first candidate holding every tool pgha needs, or advice on installing PostgreSQL. */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): BinDirResult {
  const explicit = env.PGHA_PG_BIN_DIR;
  if (explicit) {
    const missing = missingTools(explicit);
    if (!missing.length) return { ok: true, dir: explicit };
    return { ok: false, message: `PGHA_PG_BIN_DIR=${explicit} lacks ${missing.join(', ')}: point it at the directory with the PostgreSQL server binaries,\nor install them, e.g. on Debian/Ubuntu:  sudo apt-get install postgresql-15` };
  }
  const candidates = [...new Set([pgConfigBindir(), '/usr/lib/postgresql/15/bin', ...debianDirs()].filter((d): d is string => !!d))];
  for (const dir of candidates) if (!missingTools(dir).length) return { ok: true, dir };
  return {
    ok: false,
    message: [
      `PostgreSQL server binaries (${REQUIRED_PG_TOOLS.join(', ')}) were not found in ${candidates.join(', ')}.`,
      'Install them, e.g. on Debian/Ubuntu:  sudo apt-get install postgresql-15',
      '(or set PGHA_PG_BIN_DIR to the directory that holds them)',
    ].join('\n'),
  };
}
