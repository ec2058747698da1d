/**
 * The configuration an agent runs with: the local file, the effective configuration (local merged
 * with the DCS's `/config`), and the settings snapshot built from them, with what the HA cycle
 * derives from them each cycle (the decision's settings, the published tags, whether logical slot
 * copies need hot_standby_feedback) kept until one of their inputs changes: every cycle asks, and
 * almost no cycle changes anything.
 */
import { agentSettings, type AgentSettings } from '../config/agent-settings.js';
import { effectiveConfig, type EffectiveConfig, type LoadedConfig } from '../config/index.js';
import type { HaSettings } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Cluster } from '../model/cluster.js';
import { Tags } from '../model/member.js';
import { needsHotStandbyFeedback, withSlotRequirements, type SlotNode } from '../slots/index.js';
import { publishedTags } from './member-data.js';
import { syncSettings } from './sync-runner.js';

export interface RunningConfigHooks {
  readonly logger: Logger;
  /** A new effective configuration is in force (before its settings snapshot is applied). */
  onEffective(eff: EffectiveConfig): void;
  /** The one place a new settings snapshot reaches its consumers (apply-settings.ts). */
  onSettings(prev: AgentSettings, next: AgentSettings): void;
}

export class RunningConfig {
  private _local: LoadedConfig;
  private _eff: EffectiveConfig;
  private _s: AgentSettings;
  /** Logical slot copies need hot_standby_feedback (kept while the DCS cannot be read). */
  private enforceHotStandbyFeedback = false;
  private seen: { local: LoadedConfig; config: string | null; hotStandbyFeedback: boolean } | null = null;
  private tagsOf: { from: unknown; tags: Tags } | null = null;
  private haOf: { s: AgentSettings; eff: EffectiveConfig; settings: HaSettings } | null = null;
  private hsf: { cluster: Cluster; s: AgentSettings; ttl: number; majorVersion: number; value: boolean } | null = null;

  /** `cachedDynamic`: the cached `/config` (patroni.dynamic.json), which stands in until the DCS has one. */
  constructor(private readonly name: string, local: LoadedConfig, cachedDynamic: unknown, private readonly hooks: RunningConfigHooks) {
    this._local = local;
    this._eff = effectiveConfig(local.config, cachedDynamic ?? null);
    this._s = agentSettings(local.config, this._eff);
  }

  get local(): LoadedConfig { return this._local; }
  get eff(): EffectiveConfig { return this._eff; }
  /** The settings snapshot in force. */
  get s(): AgentSettings { return this._s; }

  /** The configured tags as Patroni filters them (GET /patroni, the member key and the decisions see the same). */
  get tags(): Tags {
    if (this.tagsOf?.from !== this._s.tags) this.tagsOf = { from: this._s.tags, tags: new Tags(publishedTags({ ...this._s.tags })) };
    return this.tagsOf.tags;
  }

  /** The decision's settings, built again only when the snapshot, the effective config or the watchdog changed. */
  haSettings(watchdogUnavailable: boolean): HaSettings {
    const was = this.haOf;
    if (was && was.s === this._s && was.eff === this._eff && was.settings.watchdogUnavailable === watchdogUnavailable) return was.settings;
    const settings = { ...this._s.ha, sync: syncSettings(this._eff), watchdogUnavailable };
    this.haOf = { s: this._s, eff: this._eff, settings };
    return settings;
  }

  slotNode(ttl = this._eff.cluster.memberSlotsTtl): Omit<SlotNode, 'role' | 'majorVersion'> {
    const tags = this.tags;
    return { name: this.name, nofailover: tags.nofailover, nostream: tags.nostream, replicatefrom: tags.replicatefrom, memberSlotsTtl: ttl };
  }

  /** A re-read local configuration (SIGHUP, POST /reload); `apply` then takes it in. */
  setLocal(local: LoadedConfig): void {
    this._local = local;
  }

  /**
   * Recompute the effective configuration and the settings snapshot when `/config`, the local
   * configuration, or whether logical slot copies need hot_standby_feedback changed. `majorVersion`:
   * the server's, when slots are managed (null: they are not).
   */
  apply(cluster: Cluster | null, majorVersion: number | null): void {
    if (cluster && majorVersion !== null) this.enforceHotStandbyFeedback = this.hotStandbyFeedbackNeeded(cluster, majorVersion);
    const was = this.seen;
    // No view (the DCS cannot be read): `/config` is as last seen, and what it gave stays in force.
    const config = !cluster ? was?.config ?? null : cluster.config ? `${String(cluster.config.version)}/${String(cluster.config.modifyVersion)}` : null;
    const seen = { local: this._local, config, hotStandbyFeedback: this.enforceHotStandbyFeedback };
    if (was && was.local === seen.local && was.config === seen.config && was.hotStandbyFeedback === seen.hotStandbyFeedback) return;
    this.seen = seen;
    const dynamic = cluster?.config && Object.keys(cluster.config.data).length ? cluster.config.data : null;
    const next = effectiveConfig(this._local.config, dynamic ?? (this._eff.dynamicSource === 'dcs' ? this._eff.dynamic : null));
    if (next.config.postgresql) next.config.postgresql = withSlotRequirements(next.config.postgresql, this.enforceHotStandbyFeedback);
    for (const w of next.warnings) if (!this._eff.warnings.includes(w)) this.hooks.logger.warn(w);
    this._eff = next;
    this.hooks.onEffective(next);
    try {
      const prev = this._s;
      this._s = agentSettings(this._local.config, next);
      this.hooks.onSettings(prev, this._s);
    } catch (e) {
      this.hooks.logger.error(`cannot apply the new configuration: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * needsHotStandbyFeedback for this node, computed again only when its inputs changed: the cluster
   * view (rebuilt only when the DCS changed), the settings snapshot (tags, member_slots_ttl) or the
   * server's major version.
   */
  private hotStandbyFeedbackNeeded(cluster: Cluster, majorVersion: number): boolean {
    const ttl = this._eff.cluster.memberSlotsTtl;
    const was = this.hsf;
    if (was && was.cluster === cluster && was.s === this._s && was.ttl === ttl && was.majorVersion === majorVersion) return was.value;
    const value = needsHotStandbyFeedback(cluster, { ...this.slotNode(ttl), role: 'replica', majorVersion });
    this.hsf = { cluster, s: this._s, ttl, majorVersion, value };
    return value;
  }
}
