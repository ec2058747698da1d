/**
 * Plugin manifests: defined in @pgha/plugin-api (what plugins build against), re-exported for the
 * core and the built-in plugins. The host checks apiVersion (apiIncompatibility) and then the rest
 * of the manifest (manifestProblems) when a plugin loads.
 */
export {
  API_HISTORY, PLUGIN_API_VERSION, PLUGIN_KINDS, SERVICES, apiIncompatibility, definePlugin, manifestProblems, parseApiVersion, supportedRange,
  type ApiVersion, type DcsPlugin, type MemberView, type MembersService, type PghaPlugin, type PluginKind, type PluginServices, type ReplicaPlugin,
} from '@pgha/plugin-api';
