/**
 * Patroni's Kubernetes model as data: which object holds which key, how annotations become the
 * key/value nodes the core parses, and how expiry is judged. Pure functions, no I/O.
 *
 *   <scope>-config   annotations config, initialize, history (Endpoints mode: plus a headless Service)
 *   <scope>-leader   (ConfigMaps) or <scope> (Endpoints, whose subsets carry the primary's address):
 *                    leader, acquireTime, renewTime, ttl, transitions, optime, slots, retain_slots, failsafe
 *   <scope>-failover annotations leader, member, scheduled_at
 *   <scope>-sync     annotations leader, sync_standby, quorum
 *   Pod <name>       annotation status = the member JSON; the role label
 */
import { isPlainObject, tryParseJson, type DcsNode } from '@pgha/core';
import type { K8sObject } from './client.js';

/** pgha's member heartbeat on its Pod (Patroni members have none and never expire; see README). */
export const MEMBER_RENEW_ANNOTATION = 'pgha/member-renew-time';
export const LEADER_RECORD_KEYS = ['leader', 'acquireTime', 'ttl', 'renewTime', 'transitions'] as const;

export interface ObjectNames { config: string; leader: string; failover: string; sync: string }

export function objectNames(scope: string, useEndpoints: boolean): ObjectNames {
  return {
    config: `${scope}-config`,
    leader: useEndpoints ? scope : `${scope}-leader`,
    failover: `${scope}-failover`,
    sync: `${scope}-sync`,
  };
}

export function annotationsOf(o: K8sObject | null | undefined): Record<string, string> {
  const a = o?.metadata?.annotations;
  return isPlainObject(a) ? (a as Record<string, string>) : {};
}

/** The leader record others judge expiry by; a change of it restarts their ttl clock. */
export function leaderRecord(o: K8sObject | null | undefined): string {
  const a = annotationsOf(o);
  return JSON.stringify(LEADER_RECORD_KEYS.map((k) => (k in a ? a[k] : null)));
}

/**
 * Expiry as Patroni judges it: a record is valid for `ttl` seconds (its own `ttl` annotation, else
 * ours) from when THIS client first saw it in its current form, never from timestamps written by
 * another machine's clock.
 */
export class RecordObserver {
  private seen = new Map<string, { record: string; at: number }>();

  /** Note `record` for `key` at `now`; returns when it was first seen in this form. */
  observe(key: string, record: string, now: number): number {
    const cur = this.seen.get(key);
    if (cur && cur.record === record) return cur.at;
    this.seen.set(key, { record, at: now });
    return now;
  }

  observedAt(key: string): number | null { return this.seen.get(key)?.at ?? null; }
  forget(key: string): void { this.seen.delete(key); }
}

export function recordTtl(o: K8sObject | null | undefined, fallback: number): number {
  const t = Number.parseInt(annotationsOf(o).ttl ?? '', 10);
  return Number.isFinite(t) && t > 0 ? t : fallback;
}

/** Python's datetime.now(tzutc).isoformat(): `2026-11-29T10:42:11.123456+00:00`. */
export function isoTime(ms = Date.now()): string {
  const micros = String(Math.floor((performance.now() % 1) * 1000)).padStart(3, '0');
  return new Date(ms).toISOString().replace('Z', `${micros}+00:00`);
}

let lastStamp = 0;

/**
 * A renewTime never written before by this process: others restart their ttl clock only when the
 * record changes, so two renewals must never carry the same value (microseconds, strictly rising).
 */
export function uniqueIsoTime(): string {
  const us = Math.max(Math.floor((performance.timeOrigin + performance.now()) * 1000), lastStamp + 1);
  lastStamp = us;
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}+00:00`);
}

/** Failover value (JSON object, or the legacy `leader:candidate`) → annotations (null deletes). */
export function failoverAnnotations(value: string): Record<string, string | null> {
  const parsed = tryParseJson(value);
  const out: Record<string, string | null> = { leader: null, member: null, scheduled_at: null };
  if (isPlainObject(parsed)) {
    for (const k of Object.keys(out)) {
      const v = parsed[k];
      if (v !== undefined && v !== null && v !== '') out[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  } else if (parsed === undefined && value) {
    const [leader, member] = value.split(':').map((s) => s.trim());
    out.leader = leader || null;
    out.member = member || null;
  }
  return out;
}

/** Sync value `{"leader":..,"sync_standby":..,"quorum":..}` → annotations (Patroni 4 writes quorum as a string). */
export function syncAnnotations(value: string): Record<string, string | null> {
  const parsed = tryParseJson(value);
  const v = isPlainObject(parsed) ? parsed : {};
  const str = (x: unknown) => (x === undefined || x === null || x === '' ? null : String(x));
  return { leader: str(v.leader), sync_standby: str(v.sync_standby), quorum: str(v.quorum) };
}

/** Status `{"optime":N,"slots":{..},"retain_slots":[..]}` → leader-object annotations. */
export function statusAnnotations(value: string): Record<string, string | null> {
  const parsed = tryParseJson(value);
  if (!isPlainObject(parsed)) return { optime: value || null };
  const out: Record<string, string | null> = { optime: parsed.optime === undefined || parsed.optime === null ? null : String(parsed.optime) };
  out.slots = isPlainObject(parsed.slots) && Object.keys(parsed.slots).length ? JSON.stringify(parsed.slots) : null;
  if ('retain_slots' in parsed) out.retain_slots = Array.isArray(parsed.retain_slots) && parsed.retain_slots.length ? JSON.stringify(parsed.retain_slots) : null;
  return out;
}

export interface LoadedObjects {
  readonly kinds: ReadonlyMap<string, K8sObject>;
  readonly pods: readonly K8sObject[];
}

export interface Judged {
  /** Leader annotation, if present and not expired by our observation. */
  readonly leader: string | null;
  /** Pods whose member record counts (has a status; not an expired pgha heartbeat). */
  readonly livePods: ReadonlySet<string>;
}

/** The nodes the core's cluster builder parses, from the objects and the expiry judgement. */
export function toNodes(names: ObjectNames, objs: LoadedObjects, judged: Judged): DcsNode[] {
  const nodes: DcsNode[] = [];
  const version = (o: K8sObject) => String(o.metadata.resourceVersion ?? '');
  const cfg = objs.kinds.get(names.config);
  if (cfg) {
    const a = annotationsOf(cfg);
    if (a.config !== undefined) nodes.push({ key: 'config', value: a.config, version: version(cfg) });
    if (a.initialize !== undefined) nodes.push({ key: 'initialize', value: a.initialize, version: version(cfg) });
    if (a.history !== undefined) nodes.push({ key: 'history', value: a.history, version: version(cfg) });
  }
  const leader = objs.kinds.get(names.leader);
  if (leader) {
    const a = annotationsOf(leader);
    const status: Record<string, unknown> = {};
    if (a.optime !== undefined) status.optime = a.optime;
    const slots = a.slots !== undefined ? tryParseJson(a.slots) : undefined;
    if (isPlainObject(slots)) status.slots = slots;
    const retain = a.retain_slots !== undefined ? tryParseJson(a.retain_slots) : undefined;
    if (Array.isArray(retain)) status.retain_slots = retain;
    if (Object.keys(status).length) nodes.push({ key: 'status', value: JSON.stringify(status), version: version(leader) });
    if (a.failsafe !== undefined) nodes.push({ key: 'failsafe', value: a.failsafe, version: version(leader) });
    if (judged.leader) nodes.push({ key: 'leader', value: judged.leader, version: version(leader) });
  }
  const fo = objs.kinds.get(names.failover);
  if (fo) nodes.push({ key: 'failover', value: JSON.stringify(annotationsOf(fo)), version: version(fo) });
  const sync = objs.kinds.get(names.sync);
  if (sync) {
    const a = annotationsOf(sync);
    const q = a.quorum !== undefined && /^\d+$/.test(a.quorum) ? Number(a.quorum) : undefined;
    nodes.push({ key: 'sync', value: JSON.stringify({ leader: a.leader ?? null, sync_standby: a.sync_standby ?? null, ...(q !== undefined ? { quorum: q } : {}) }), version: version(sync) });
  }
  for (const pod of objs.pods) {
    const name = String(pod.metadata.name);
    if (!judged.livePods.has(name)) continue;
    nodes.push({ key: `members/${name}`, value: annotationsOf(pod).status ?? '', version: version(pod) });
  }
  return nodes;
}

/** Patroni 4's role labels for this member's Pod. */
export function roleLabels(data: Record<string, unknown>, isLeader: boolean, s: {
  roleLabel: string; leaderLabelValue: string; followerLabelValue: string; standbyLeaderLabelValue: string;
  tmpRoleLabel: string | null; bootstrapLabels: Record<string, string>;
}): Record<string, string | null> {
  const role = typeof data.role === 'string' ? data.role : '';
  let label: string | null = null;
  let tmp: string | null = null;
  if (isLeader) {
    label = role === 'standby_leader' ? s.standbyLeaderLabelValue : s.leaderLabelValue;
    tmp = 'primary';
  } else if (data.state === 'running' && role !== 'primary' && role !== 'master') {
    label = role === 'replica' ? s.followerLabelValue : role || null;
    tmp = role || null;
  }
  const out: Record<string, string | null> = { [s.roleLabel]: label };
  if (s.tmpRoleLabel) out[s.tmpRoleLabel] = tmp;
  const bootstrapping = ['initializing new cluster', 'running custom bootstrap script', 'starting after custom bootstrap', 'creating replica']
    .includes(String(data.state));
  for (const [k, v] of Object.entries(s.bootstrapLabels)) out[k] = bootstrapping ? v : null;
  return out;
}
