/**
 * Packages as a user gets them: `npm pack` tarballs of the workspace packages and of plugins
 * outside it, installed into a fresh directory with `npm install` (no workspace links). npm finds
 * the third-party dependencies in its cache (filled by `npm ci`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

function npm(args: string[], cwd: string, timeoutMs = 180_000): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Tarballs of workspace packages (by name), in `dest`; returns their paths. */
export function packWorkspaces(dest: string, names: readonly string[]): string[] {
  const out = npm(['pack', '--silent', '--pack-destination', dest, ...names.flatMap((n) => ['-w', n])], REPO);
  return out.trim().split('\n').map((f) => join(dest, f.trim()));
}

/** The tarball of a package directory outside the workspace. */
export function packDir(dir: string, dest: string): string {
  return join(dest, npm(['pack', '--silent', '--pack-destination', dest], dir).trim().split('\n').pop()!.trim());
}

/** Compile a TypeScript package with the workspace's compiler (its own tsconfig). */
export function tscBuild(dir: string): void {
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
}

/**
 * A fresh npm project in `dir` with `tarballs` installed (and, from the cache, their dependencies).
 * Offline first; `npm ci` caches package tarballs but not registry metadata, so on a machine that
 * never resolved these ranges npm may fetch metadata once (`--prefer-offline`: tarballs still come
 * from the cache).
 */
export function installTarballs(dir: string, tarballs: readonly string[], extra: readonly string[] = []): void {
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pgha-site', private: true }));
  const args = ['--no-audit', '--no-fund', '--loglevel=error', ...tarballs, ...extra];
  try {
    npm(['install', '--offline', ...args], dir, 240_000);
  } catch (e) {
    if (!/ENOTCACHED/.test(String(e))) throw e;
    npm(['install', '--prefer-offline', ...args], dir, 240_000);
  }
}
