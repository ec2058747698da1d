/**
 * The plugin host, pgha's `dcs_modules`/`get_dcs`: maps configuration sections to plugin packages,
 * imports only the plugins the configuration names, validates manifests and config sections, and
 * builds the DCS driver from the first DCS section that loads.
 */
import { pathToFileURL } from 'node:url';
import type { DcsContext, DcsDriver } from '../dcs/driver.js';
import type { ServiceMap, ServiceName, ServiceSource } from '../di.js';
import { ErrorCodes, PghaError } from '../errors.js';
import { isPlainObject } from '../util/json.js';
import { PLUGIN_API_VERSION, apiIncompatibility, manifestProblems, type DcsPlugin, type PghaPlugin, type PluginKind, type ReplicaPlugin } from './manifest.js';
import {
  defaultSearchRoots, discoverPluginPackages, findPackage, isPathSpec, packageEntry, pathPluginUrl, type PackageInfo,
} from './resolve.js';
import { validateWith } from './schema.js';

/** Built-in names and the packages that provide them. */
export const BUILTIN_PLUGINS: Readonly<Record<PluginKind, Readonly<Record<string, string>>>> = {
  dcs: {
    etcd3: '@pgha/dcs-etcd3',
    consul: '@pgha/dcs-consul',
    zookeeper: '@pgha/dcs-zookeeper',
    kubernetes: '@pgha/dcs-kubernetes',
    raft: '@pgha/dcs-raft',
  },
  replica: {
    basebackup: '@pgha/replica-basebackup',
    pgbackrest: '@pgha/replica-pgbackrest',
    barman: '@pgha/replica-barman',
  },
};

/** DCS sections Patroni accepts that pgha has no driver for, with the advice to give. */
const UNSUPPORTED_DCS: Record<string, string> = {
  etcd: 'the etcd v2 API is not supported; rename the section to etcd3 (same keys) and install @pgha/dcs-etcd3',
  exhibitor: 'Exhibitor is not supported; use zookeeper with the ensemble hosts',
};

export interface PluginRef {
  readonly kind: PluginKind;
  readonly name: string;
  readonly configKey: string;
  /** npm package name, or the path given in `plugins:`. */
  readonly source: string;
  readonly origin: 'builtin' | 'config' | 'discovered';
  readonly installed: boolean;
  readonly version: string | null;
  /** Where to import from (file URL); null when not installed. */
  readonly url: string | null;
}

/** One DCS section as checkDcs saw it. */
export interface DcsSectionCheck {
  readonly section: string;
  readonly ok: boolean;
  /** The package (or path) that serves the section, when one is known. */
  readonly source: string | null;
  readonly message: string;
}

export interface DcsCheck {
  /** The section createDcs would use (the first that loads), or null. */
  readonly selected: string | null;
  readonly sections: readonly DcsSectionCheck[];
  readonly error: string | null;
}

export interface PluginHostOptions {
  /** The whole (local) configuration. */
  readonly config: Record<string, unknown>;
  /** Base for relative paths in `plugins:` (the config file's directory). */
  readonly baseDir?: string;
  readonly searchRoots?: readonly string[];
  /** Where plugins' declared services come from (the core's container); without it, a plugin that declares any is refused. */
  readonly services?: ServiceSource;
}

function refFromPackage(pkg: PackageInfo, origin: PluginRef['origin'], fallback?: { kind: PluginKind; name: string }): PluginRef | null {
  const meta = isPlainObject(pkg.json.pgha) ? pkg.json.pgha : {};
  const kind = (meta.kind ?? fallback?.kind) as PluginKind | undefined;
  const name = (meta.name ?? fallback?.name) as string | undefined;
  if (!kind || !name) return null;
  return {
    kind, name, configKey: String(meta.configKey ?? name), source: pkg.name, origin, installed: true,
    version: pkg.version, url: pathToFileURL(packageEntry(pkg)).href,
  };
}

export class PluginHost {
  private readonly roots: readonly string[];
  private readonly loaded = new Map<string, Promise<PghaPlugin>>();
  private configRefs: PluginRef[] | null = null;

  constructor(private readonly opts: PluginHostOptions) {
    this.roots = opts.searchRoots ?? defaultSearchRoots();
  }

  /** Built-ins (installed or not), `pgha-plugin-*` packages, and `plugins:` entries (imported to read their manifest). */
  async discover(): Promise<PluginRef[]> {
    const refs: PluginRef[] = [];
    for (const kind of Object.keys(BUILTIN_PLUGINS) as PluginKind[]) {
      for (const [name, pkgName] of Object.entries(BUILTIN_PLUGINS[kind])) {
        const pkg = findPackage(pkgName, this.roots);
        refs.push(pkg
          ? refFromPackage(pkg, 'builtin', { kind, name })!
          : { kind, name, configKey: name, source: pkgName, origin: 'builtin', installed: false, version: null, url: null });
      }
    }
    for (const pkg of discoverPluginPackages(this.roots)) {
      const ref = refFromPackage(pkg, 'discovered');
      if (ref) refs.push(ref);
    }
    refs.push(...(await this.pluginsFromConfig()));
    return refs;
  }

  /** Entries of the config's `plugins:` list; these are imported since the config names them. */
  private async pluginsFromConfig(): Promise<PluginRef[]> {
    if (this.configRefs) return this.configRefs;
    const list = this.opts.config.plugins;
    const specs = Array.isArray(list) ? list.map(String) : typeof list === 'string' ? list.split(',').map((s) => s.trim()).filter(Boolean) : [];
    const refs: PluginRef[] = [];
    for (const spec of specs) {
      let url: string | null = null;
      let pkg: PackageInfo | null = null;
      if (isPathSpec(spec)) ({ url, pkg } = pathPluginUrl(spec, this.opts.baseDir ?? process.cwd()));
      else {
        pkg = findPackage(spec, this.roots);
        url = pkg ? pathToFileURL(packageEntry(pkg)).href : null;
      }
      if (!url) {
        throw new PghaError(ErrorCodes.PLUGIN_NOT_INSTALLED, `plugins: ${spec} is not installed: npm i ${spec}`);
      }
      const plugin = await this.importManifest(url, spec);
      refs.push({
        kind: plugin.kind, name: plugin.name, configKey: plugin.configKey, source: spec, origin: 'config',
        installed: true, version: pkg?.version ?? null, url,
      });
    }
    this.configRefs = refs;
    return refs;
  }

  private importManifest(url: string, label: string): Promise<PghaPlugin> {
    let p = this.loaded.get(url);
    if (!p) {
      p = (async () => {
        // A module namespace object: its exports by name.
        let mod: Record<string, unknown>;
        try {
          mod = await import(url);
        } catch (e) {
          throw new PghaError(ErrorCodes.PLUGIN_INVALID, `${label}: import failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        const manifest = mod.default ?? mod.plugin;
        // The API version first: a plugin for another API may fail the other checks for that reason alone.
        const apiVersion = isPlainObject(manifest) ? manifest.apiVersion : undefined;
        const incompatible = apiIncompatibility(label, apiVersion, PLUGIN_API_VERSION);
        if (incompatible) throw new PghaError(ErrorCodes.PLUGIN_INCOMPATIBLE, incompatible);
        const problems = manifestProblems(manifest);
        if (problems.length) throw new PghaError(ErrorCodes.PLUGIN_INVALID, `${label}: invalid plugin manifest: ${problems.join('; ')}`);
        return manifest as PghaPlugin;
      })();
      this.loaded.set(url, p);
    }
    return p;
  }

  /** Find the plugin serving `kind`/`name`: `plugins:` entries first, then discovered, then built-ins. */
  async find(kind: PluginKind, name: string): Promise<PluginRef | null> {
    const refs = await this.discover();
    const order: PluginRef['origin'][] = ['config', 'discovered', 'builtin'];
    for (const origin of order) {
      const r = refs.find((x) => x.kind === kind && x.origin === origin && (x.name === name || x.configKey === name));
      if (r) return r;
    }
    return null;
  }

  /** Import and validate a plugin; errors name the npm package to install. */
  async load(ref: PluginRef): Promise<PghaPlugin> {
    if (!ref.installed || !ref.url) {
      throw new PghaError(ErrorCodes.PLUGIN_NOT_INSTALLED, `plugin ${ref.source} is not installed: npm i ${ref.source}`);
    }
    const plugin = await this.importManifest(ref.url, ref.source);
    if (plugin.kind !== ref.kind) throw new PghaError(ErrorCodes.PLUGIN_INVALID, `${ref.source}: provides a ${plugin.kind} plugin, expected ${ref.kind}`);
    return plugin;
  }

  /** Validate a config section against the plugin's schema; the error names the key path. */
  async validateSection<C>(plugin: PghaPlugin, section: unknown, prefix: string): Promise<C> {
    if (!plugin.configSchema) return section as C;
    const r = await validateWith(plugin.configSchema, section ?? {}, prefix);
    if (!r.ok) throw new PghaError(ErrorCodes.PLUGIN_CONFIG_INVALID, r.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    return r.value as C;
  }

  /** Exactly the services the plugin's manifest declares. */
  servicesFor(plugin: PghaPlugin): Partial<ServiceMap> {
    const uses = (plugin.uses ?? []) as readonly ServiceName[];
    if (!uses.length) return {};
    if (!this.opts.services) throw new PghaError(ErrorCodes.PLUGIN_INVALID, `plugin ${plugin.name} uses ${uses.join(', ')}, but no services are available here`);
    return this.opts.services(uses);
  }

  /** DCS section names present in the config, in the order written. */
  async dcsSections(): Promise<string[]> {
    const known = new Set<string>([...Object.keys(BUILTIN_PLUGINS.dcs), ...Object.keys(UNSUPPORTED_DCS)]);
    for (const r of await this.discover()) if (r.kind === 'dcs') known.add(r.configKey);
    return Object.keys(this.opts.config).filter((k) => known.has(k) && isPlainObject(this.opts.config[k]));
  }

  /**
   * Patroni's get_dcs: try each DCS section present; the first that loads wins. When none does,
   * fail with one line per section tried and why.
   */
  async createDcs(ctx: DcsContext): Promise<{ plugin: DcsPlugin; driver: DcsDriver; section: string }> {
    const sections = await this.dcsSections();
    const reasons: string[] = [];
    for (const section of sections) {
      if (UNSUPPORTED_DCS[section]) {
        reasons.push(`  ${section}: ${UNSUPPORTED_DCS[section]}`);
        continue;
      }
      try {
        const ref = await this.find('dcs', section);
        if (!ref) throw new PghaError(ErrorCodes.PLUGIN_NOT_INSTALLED, `no plugin provides the ${section} DCS`);
        const plugin = (await this.load(ref)) as DcsPlugin;
        const cfg = await this.validateSection(plugin, this.opts.config[section], section);
        const driver = await plugin.create({ ...ctx, services: this.servicesFor(plugin) }, cfg);
        return { plugin, driver, section };
      } catch (e) {
        reasons.push(`  ${section}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const tried = reasons.length ? reasons.join('\n') : `  no DCS section found; add one of: ${Object.keys(BUILTIN_PLUGINS.dcs).join(', ')}`;
    throw new PghaError(ErrorCodes.NO_DCS, `Can not find suitable configuration of distributed configuration store\n${tried}`);
  }

  /**
   * What createDcs would do, without creating a driver (nothing connects): for each DCS section,
   * load its plugin and validate the section. `error` is createDcs's message when no section loads.
   */
  async checkDcs(): Promise<DcsCheck> {
    const results: DcsSectionCheck[] = [];
    for (const section of await this.dcsSections()) {
      if (UNSUPPORTED_DCS[section]) {
        results.push({ section, ok: false, source: null, message: UNSUPPORTED_DCS[section] });
        continue;
      }
      const ref = await this.find('dcs', section).catch(() => null);
      try {
        if (!ref) throw new PghaError(ErrorCodes.PLUGIN_NOT_INSTALLED, `no plugin provides the ${section} DCS`);
        const plugin = await this.load(ref);
        await this.validateSection(plugin, this.opts.config[section], section);
        results.push({ section, ok: true, source: ref.source, message: `${ref.source}${ref.version ? ` ${ref.version}` : ''} loaded, configuration valid` });
      } catch (e) {
        results.push({ section, ok: false, source: ref?.source ?? null, message: e instanceof Error ? e.message : String(e) });
      }
    }
    const selected = results.find((r) => r.ok)?.section ?? null;
    const tried = results.length
      ? results.filter((r) => !r.ok).map((r) => `  ${r.section}: ${r.message}`).join('\n')
      : `  no DCS section found; add one of: ${Object.keys(BUILTIN_PLUGINS.dcs).join(', ')}`;
    const error = selected ? null : `Can not find suitable configuration of distributed configuration store\n${tried}`;
    return { selected, sections: results, error };
  }

  /**
   * Problems with the replica methods the configuration names (postgresql.create_replica_methods):
   * an installed plugin that is refused (apiVersion, manifest) or rejects its section. Methods run
   * as scripts, and plugins not installed, are left to replica creation (which logs why).
   */
  async checkReplicaMethods(): Promise<Array<{ path: string; message: string }>> {
    const pg = isPlainObject(this.opts.config.postgresql) ? this.opts.config.postgresql : {};
    const names = Array.isArray(pg.create_replica_methods) ? pg.create_replica_methods.map(String) : [];
    const issues: Array<{ path: string; message: string }> = [];
    for (const name of names) {
      const section = pg[name];
      if (isPlainObject(section) && typeof section.command === 'string' && section.command) continue;
      const ref = await this.find('replica', name).catch(() => null);
      if (!ref?.installed) continue;
      let plugin: PghaPlugin;
      try {
        plugin = await this.load(ref);
      } catch (e) {
        issues.push({ path: 'postgresql.create_replica_methods', message: `${name}: ${e instanceof Error ? e.message : String(e)}` });
        continue;
      }
      if (!plugin.configSchema) continue;
      const r = await validateWith(plugin.configSchema, section ?? {}, `postgresql.${name}`);
      if (!r.ok) issues.push(...r.issues);
    }
    return issues;
  }

  /** Load a replica-creation plugin by method name (basebackup, pgbackrest...); null if none provides it. */
  async replicaPlugin(name: string): Promise<ReplicaPlugin | null> {
    const ref = await this.find('replica', name);
    if (!ref) return null;
    return (await this.load(ref)) as ReplicaPlugin;
  }
}
