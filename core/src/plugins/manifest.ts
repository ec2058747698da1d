/**
 * Plugin manifests: defined in @pgha/plugin-api (what plugins build against), re-exported for the
 * core and the built-in plugins. The host checks apiVersion (apiIncompatibility) and then the rest
 * of the manifest (manifestProblems) when a plugin loads.
 */
export {
  API_HISTORY, PLUGIN_KINDS, SERVICES, apiIncompatibility, definePlugin, manifestProblems, parseApiVersion, supportedRange,
  type ApiVersion, type DcsPlugin, type MemberView, type MembersService, type PghaPlugin, type PluginKind, type PluginServices, type ReplicaPlugin,
} from '@pgha/plugin-api';

/**
 * The plugin API this core implements. Deliberately the core's own constant, not the installed
 * @pgha/plugin-api's: npm may install a newer 1.z of that package (another plugin asked for it),
 * and the core must not claim services and request members it does not provide.
 */
export const PLUGIN_API_VERSION = '1.1' as const;
