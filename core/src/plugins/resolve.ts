/** Locate installed packages and their entry points without importing them. */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isPlainObject } from '../util/json.js';

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly json: Record<string, unknown>;
}

const coreDir = dirname(fileURLToPath(import.meta.url));

/** Directories whose ancestors' node_modules are searched: cwd first, then where core is installed. */
export function defaultSearchRoots(cwd = process.cwd()): string[] {
  const extra = (process.env.NODE_PATH ?? '').split(':').filter(Boolean);
  return [cwd, coreDir, ...extra];
}

function nodeModulesDirs(roots: readonly string[]): string[] {
  const out: string[] = [];
  for (const root of roots) {
    let dir = resolve(root);
    for (;;) {
      const nm = dir.endsWith('node_modules') ? dir : join(dir, 'node_modules');
      if (existsSync(nm) && !out.includes(nm)) out.push(nm);
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return out;
}

export function readPackage(dir: string): PackageInfo | null {
  try {
    const json: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (!isPlainObject(json)) return null;
    return { name: String(json.name ?? ''), version: String(json.version ?? '0.0.0'), dir, json };
  } catch {
    return null;
  }
}

export function findPackage(name: string, roots: readonly string[]): PackageInfo | null {
  for (const nm of nodeModulesDirs(roots)) {
    const dir = join(nm, ...name.split('/'));
    if (existsSync(join(dir, 'package.json'))) return readPackage(dir);
  }
  return null;
}

/** Installed packages named `pgha-plugin-*` or `@scope/pgha-plugin-*`. */
export function discoverPluginPackages(roots: readonly string[]): PackageInfo[] {
  const found = new Map<string, PackageInfo>();
  const consider = (dir: string) => {
    const p = readPackage(dir);
    if (p && !found.has(p.name)) found.set(p.name, p);
  };
  for (const nm of nodeModulesDirs(roots)) {
    let entries: string[] = [];
    try { entries = readdirSync(nm); } catch { continue; }
    for (const e of entries) {
      if (e.startsWith('pgha-plugin-')) consider(join(nm, e));
      else if (e.startsWith('@')) {
        let scoped: string[] = [];
        try { scoped = readdirSync(join(nm, e)); } catch { continue; }
        for (const s of scoped) if (s.startsWith('pgha-plugin-')) consider(join(nm, e, s));
      }
    }
  }
  return [...found.values()];
}

/** The ESM entry of a package directory: exports["."] (import/default), then main, then index.js. */
export function packageEntry(pkg: PackageInfo): string {
  const exp = pkg.json.exports;
  let rel: unknown;
  if (typeof exp === 'string') rel = exp;
  else if (isPlainObject(exp)) {
    const dot = exp['.'] ?? exp;
    if (typeof dot === 'string') rel = dot;
    else if (isPlainObject(dot)) {
      rel = dot.import ?? dot.default ?? dot.node;
      if (isPlainObject(rel)) rel = rel.default;
    }
  }
  rel ??= pkg.json.main ?? 'index.js';
  return join(pkg.dir, String(rel));
}

/** Resolve a `plugins:` entry that is a path (relative to `baseDir`) to a file URL to import. */
export function pathPluginUrl(spec: string, baseDir: string): { url: string; pkg: PackageInfo | null } {
  const abs = isAbsolute(spec) ? spec : resolve(baseDir, spec);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    const pkg = readPackage(abs);
    if (pkg) return { url: pathToFileURL(packageEntry(pkg)).href, pkg };
    return { url: pathToFileURL(join(abs, 'index.js')).href, pkg: null };
  }
  return { url: pathToFileURL(abs).href, pkg: null };
}

export function isPathSpec(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || /\.(m?js|cjs)$/.test(spec);
}
