/**
 * The plugin API version and its compatibility rule (semver on `major.minor`):
 *  - a plugin declares the API version it was written against (`apiVersion: '1.0'`);
 *  - a pgha whose API is 1.y loads every plugin declaring 1.x with x <= y (minor versions only add);
 *  - a different major, or a newer minor than pgha provides, is refused with a message naming the
 *    plugin, the version it declares and the range this pgha supports.
 */
export type ApiVersion = `${number}.${number}`;

/** The API this package describes. Bumped (minor) when something is added; (major) when anything changes or goes. */
export const PLUGIN_API_VERSION = '1.1' as const satisfies ApiVersion;

/** What each minor version added, so a refusal can say what a plugin needs. */
export const API_HISTORY: Readonly<Record<string, string>> = {
  '1.0': 'manifest, DCS and replica-method contracts; services config, logger, clock, http',
  '1.1': "service 'members' and ReplicaCreateRequest.connect(): replica methods may choose their own source",
};

export interface ParsedApiVersion { readonly major: number; readonly minor: number }

/** '1.2' → {1, 2}; the plain number 1 (manifests written before minor versions) means 1.0. */
export function parseApiVersion(v: unknown): ParsedApiVersion | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return { major: v, minor: 0 };
  if (typeof v !== 'string') return null;
  const m = /^(\d{1,4})\.(\d{1,4})$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** The range a pgha providing `provided` accepts, as text: `1.0–1.1`. */
export function supportedRange(provided: string = PLUGIN_API_VERSION): string {
  const p = parseApiVersion(provided)!;
  return p.minor === 0 ? `${p.major}.0` : `${p.major}.0–${p.major}.${p.minor}`;
}

/**
 * Why a plugin declaring `declared` cannot load into a pgha providing `provided`, or null when it can.
 * `label` names the plugin (its package or path).
 */
export function apiIncompatibility(label: string, declared: unknown, provided: string = PLUGIN_API_VERSION): string | null {
  const p = parseApiVersion(provided)!;
  const d = parseApiVersion(declared);
  const range = supportedRange(provided);
  if (!d) return `plugin ${label} declares apiVersion ${JSON.stringify(declared)}, which is not a plugin API version ('major.minor'); this pgha supports plugin API ${range}`;
  const shown = typeof declared === 'number' ? `${d.major}.${d.minor}` : String(declared);
  if (d.major !== p.major) {
    return `plugin ${label} needs plugin API ${shown}, which this pgha does not support (it supports plugin API ${range}): ` +
      (d.major > p.major ? 'upgrade pgha, or install a release of the plugin built for API ' : 'install a release of the plugin built for API ') + `${p.major}.x`;
  }
  if (d.minor > p.minor) {
    return `plugin ${label} needs plugin API ${shown}, newer than this pgha provides (it supports plugin API ${range}): upgrade pgha`;
  }
  return null;
}
